"""`python -m soorma.manifests [PATH...] [--scan FOLDER]`: print the agents' manifests."""

from soorma.manifests.producer import main

raise SystemExit(main())
