"""The cascade itself: the face (`agent`), its options (`spec`), the run (`engine`), its events
(`streaming`) and the hooks cross-cutting features plug into (`hooks`). It imports no adapter."""
