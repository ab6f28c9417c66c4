"""Files in and out: readers (PDF, DOCX, TXT/Markdown in UTF-8 or GBK) with their limits and errors, and office exports."""
