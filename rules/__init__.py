"""autogradlint's rules: one module per rule, discovered by autogradlint.rule.all_rules()."""
