"""``tokkit compare``: tokenizers and classic codecs on a user's own files, quality against payload bytes,
written as a report folder (index.html, results.json, rd.png, rd.svg) with resumable cells.

- :mod:`.inputs`: reading inputs of one modality within caps (:class:`~.inputs.Limits`);
- :mod:`.systems`: budgets, tokenizer and classic cells, metrics, previews;
- :mod:`.run`: :func:`~.run.run_comparison`, the cell store, results.json;
- :mod:`.report`: the plot and the page.
"""
