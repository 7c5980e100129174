"""gradlint's rules: one module per rule, discovered by gradlint.rule.all_rules()."""
