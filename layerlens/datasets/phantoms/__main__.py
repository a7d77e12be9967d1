"""``python -m layerlens.datasets.phantoms --preview grid.png``: write a labelled grid of phantoms."""

from layerlens.datasets.phantoms.preview import main

raise SystemExit(main())
