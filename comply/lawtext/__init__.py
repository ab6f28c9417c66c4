"""Law-text helpers: Chinese numerals in article numbers, and citations of provisions (《证券法》第八十条)."""
