"""The compliance controls the rules map to, one named set per kind of protection.

Declared once so that two rules answering the same threat cite the same controls; a rule adds the one control
specific to it (``frameworks=BOUNDARY + ("NIST 800-53 SC-12",)``).
"""

from __future__ import annotations

PATCHING = ("SOC 2 CC7.1", "PCI-DSS 4.0 6.3.3", "HIPAA 164.308(a)(5)(ii)(B)", "NIST 800-53 SI-2")
IDENTITY = (
    "SOC 2 CC6.1",
    "PCI-DSS 4.0 7.2.1",
    "PCI-DSS 4.0 8.2.1",
    "HIPAA 164.312(a)(1)",
    "NIST 800-53 AC-2",
    "NIST 800-53 IA-2",
)
AUTHORIZATION = (
    "SOC 2 CC6.1",
    "SOC 2 CC6.3",
    "PCI-DSS 4.0 7.2.1",
    "HIPAA 164.312(a)(1)",
    "NIST 800-53 AC-3",
    "NIST 800-53 AC-6",
)
BOUNDARY = ("SOC 2 CC6.6", "PCI-DSS 4.0 1.3.1", "HIPAA 164.312(e)(1)", "NIST 800-53 SC-7")
EGRESS = ("SOC 2 CC6.6", "PCI-DSS 4.0 1.3.2", "HIPAA 164.312(e)(1)", "NIST 800-53 SC-7(5)")
TRANSIT = ("SOC 2 CC6.7", "PCI-DSS 4.0 4.2.1", "HIPAA 164.312(e)(1)", "NIST 800-53 SC-8")
AUDIT = ("SOC 2 CC7.2", "PCI-DSS 4.0 10.2.1", "HIPAA 164.312(b)", "NIST 800-53 AU-2", "NIST 800-53 AU-12")
AVAILABILITY = ("SOC 2 A1.2", "NIST 800-53 CP-10")
KEYS = ("SOC 2 CC6.1", "PCI-DSS 4.0 3.6.1", "HIPAA 164.312(a)(2)(iv)", "NIST 800-53 SC-12")
RECOVERY = ("SOC 2 A1.2", "PCI-DSS 4.0 3.6.1", "HIPAA 164.308(a)(7)(ii)(A)", "NIST 800-53 CP-9")
LEAST_PRIVILEGE = ("SOC 2 CC6.8", "PCI-DSS 4.0 2.2.1", "HIPAA 164.308(a)(3)(i)", "NIST 800-53 AC-6", "NIST 800-53 CM-7")
ISOLATION = ("SOC 2 CC6.8", "PCI-DSS 4.0 2.2.1", "NIST 800-53 SC-39", "NIST 800-53 AC-6")
