"""Ingestion and corpus administration: legal-structure segmentation, chunking, cases, screening and the
hold queue, the atomic index swap, document listing and status."""
