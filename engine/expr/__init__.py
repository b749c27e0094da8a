"""The formula language: operator registry, parser/printer/RPN, grammar masks, evaluator, the
classic factor set, and Qlib's syntax in and out with its Alpha158 set (ALPHAFORGE_SPEC §2)."""
