"""Ingestion: parsing, legal-structure segmentation, chunking, cases, screening, embedding, atomic index swap."""
