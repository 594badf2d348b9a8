"""Reads tables back through the catalog and counts their rows (one column scanned, batch by batch).
Usage: count_rows.py <column> <namespace.table>…   Prints {"<namespace.table>": rows, …}."""
import json
import sys

from common import catalog

column, idents = sys.argv[1], sys.argv[2:]
cat = catalog()
counts = {}
for ident in idents:
    scan = cat.load_table(ident).scan(selected_fields=(column,))
    counts[ident] = sum(batch.num_rows for batch in scan.to_arrow_batch_reader())
print(json.dumps(counts))
