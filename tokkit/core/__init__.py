"""Core interface: Tokens, Tokenizer, the loader registry and the token container."""
