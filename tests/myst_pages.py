"""The header of a MyST notebook page, shared by the tests that write scratch chapters."""

import textwrap

MYST_HEADER = textwrap.dedent(
    """\
    ---
    jupytext:
      formats: ipynb,md:myst
      text_representation:
        extension: .md
        format_name: myst
        format_version: 0.13
    kernelspec:
      display_name: Python 3 (ipykernel)
      language: python
      name: python3
    ---
    """
)
