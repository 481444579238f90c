"""How many qubits an OpenQASM source declares, read without parsing it.

The API refuses circuits over the qubit limit at submission, so this must cost next to nothing:
two regular expressions over the source (microseconds for the suite's circuits). It counts the
declarations with literal sizes (`qubit[20] q;`, `qubit q;`, OpenQASM 2's `qreg q[20];`) and the
physical qubits used (`$7` counts 8); a size given by an expression is not counted here. The
worker checks the parsed circuit's real qubit count as well, so nothing over the limit runs.
"""

import re

_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
# Each pattern starts with a literal, which the regular expression engine scans for quickly.
_QUBIT = re.compile(r"qubit\s*(?:\[\s*(\d+)\s*\])?\s+[A-Za-z_]\w*\s*;")
_QREG = re.compile(r"qreg\s+[A-Za-z_]\w*\s*(?:\[\s*(\d+)\s*\])?\s*;")
_PHYSICAL = re.compile(r"\$(\d+)")


def declared_qubits(source: str) -> int:
    """Qubits the source declares with literal sizes, or the physical qubits it uses."""
    code = _COMMENTS.sub(" ", source) if "/" in source else source
    declared = sum(
        int(match.group(1) or 1)
        for pattern in (_QUBIT, _QREG)
        for match in pattern.finditer(code)
        if _starts_statement(code, match.start())
    )
    physical = max((int(index) + 1 for index in _PHYSICAL.findall(code)), default=0)
    return max(declared, physical)


def _starts_statement(code: str, index: int) -> bool:
    """Whether `index` begins a statement: a subroutine's `qubit[2] q` parameter does not."""
    index -= 1
    while index >= 0 and code[index].isspace():
        index -= 1
    return index < 0 or code[index] in ";{}"
