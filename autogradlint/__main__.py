from autogradlint.cli import main

raise SystemExit(main())
