import json
import sys

from tests.corpus import CORPUS, NOTEBOOKS, write_all

write_all(sys.argv[1] if len(sys.argv) > 1 else NOTEBOOKS)
print(json.dumps({"mutants": sum(e.kind == "mutant" for e in CORPUS),
                  "alternatives": sum(e.kind == "alternative" for e in CORPUS)}))
