from resync_mcp.cli import main

raise SystemExit(main())
