from tfmon.cli import main

raise SystemExit(main())
