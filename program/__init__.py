"""The program's wiring, one module per area of the architecture (docs/ARCHITECTURE.md, "The flow of one up").

Each module turns the validated stack config and what the components upstream of it provide into the
components of its area: ``foundation`` (resource group, network, workspace, the vault and the keys kept in
it), ``network`` (the outbound path), ``cluster`` (etcd encryption and AKS), ``mesh`` (sealed-secrets, Istio
and its two edges), ``apps`` (app namespaces, admission policies, tenancy), ``observability`` and
``outputs`` (the contract's values). ``__main__.py`` calls them in that order. The ``*_args`` builders are
the wiring itself: tests/components/wiring.py calls the same builders with stand-ins for the upstream
components (``upstream``), so the tests exercise the wiring the program runs.
"""
