from gestured.cli import main

raise SystemExit(main())
