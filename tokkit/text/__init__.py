"""Text tokenizers: exact byte-pair encoding of HF tokenizer.json and tiktoken files, on the fastest exact engine."""
