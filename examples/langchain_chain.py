"""
LangChain: a cascade inside an LCEL chain
=========================================

`ChatCascade` is a drop-in LangChain chat model: cheap model first, stronger model only when the
draft is not good enough. Streams never show a rejected draft.

Run:
    python examples/langchain_chain.py            # offline: replays recorded responses
    python examples/langchain_chain.py --live     # live: needs OPENAI_API_KEY
"""

from _replay import Reply, models, openai_stream, replay, say, words
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel, Field

from cascadeflow_integrations.langchain import ChatCascade

Q1 = "What is the capital of France?"
Q2 = "Explain why the sky is blue, in physical terms."


class City(BaseModel):
    """A city and its country."""

    name: str = Field(description="city name")
    country: str = Field(description="country name")


def recordings(server):
    say(server, "gpt-4o-mini", "The capital of France is Paris.", match="capital of France")
    # The cheap model runs out of tokens mid-answer (finish_reason "length"): its draft is rejected.
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", words(
        "The sky looks blue because sunlight"), finish="length", usage=(30, 8)), delay=0.01), match="sky")
    say(server, "gpt-4o", "Air molecules scatter short (blue) wavelengths of sunlight far more than long ones "
        "(Rayleigh scattering, proportional to 1/wavelength^4), so blue light reaches your eyes from every "
        "direction of the sky.", match="sky", usage=(30, 40))
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", tool_calls=[
        ("call_1", "City", '{"name": "Kyoto", "country": "Japan"}')])), match="Kyoto")


def main(base_url):
    llm = ChatCascade(models=models(base_url), max_tokens=200)
    prompt = ChatPromptTemplate.from_messages([("system", "Answer accurately and concisely."), ("human", "{q}")])
    chain = prompt | llm | StrOutputParser()

    message = (prompt | llm).invoke({"q": Q1})
    print(f"\nQ: {Q1}\nA: {message.content}")
    info = message.response_metadata["cascade"]
    print(f"   model {info['model_used']}, draft accepted: {info['draft_accepted']}, cost ${info['total_cost']:.6f}")

    print(f"\nQ: {Q2}\nA: ", end="", flush=True)
    for token in chain.stream({"q": Q2}):  # only the kept answer streams, never the rejected draft
        print(token, end="", flush=True)
    print()

    city = llm.with_structured_output(City).invoke("Which country is Kyoto in?")
    print(f"\nStructured output: {city!r}")


if __name__ == "__main__":
    with replay(recordings) as url:
        main(url)
