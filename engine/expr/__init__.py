"""The formula language: operator registry, parser/printer/RPN, grammar masks, evaluator and
the classic factor set (ALPHAFORGE_SPEC §2)."""
