"""The hybrid retriever as a LangChain ``BaseRetriever``, so it plugs into LangChain chains unchanged."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from retrieval.search import Searcher


class ComplyRetriever(BaseRetriever):
    """Returns clauses as Documents (text as page_content; id, document, article, path, level, score as metadata).

    The clearance is fixed per retriever instance: build one per signed-in user.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: Searcher
    clearance: int = 0
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [
            Document(page_content=h.text, id=h.chunk_id, metadata={k: v for k, v in h.as_json().items() if k != "text"})
            for h in self.searcher.search(query, k=self.k, clearance=self.clearance)
        ]
