"""Knowledge: documents, chunks, the embedding model and the LanceDB index."""
