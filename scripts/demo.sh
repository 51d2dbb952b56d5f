#!/usr/bin/env bash
# The main job: set everything up, profile the bundled multi-threaded example, write its trace, and
# say how to view it. Usage: bash scripts/demo.sh
. "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh" notebook
cd "$ROOT"
mkdir -p out
say "profiling examples/threads_demo.py"
"$VENV/bin/fprofile" run -o out/threads_demo.fpt examples/threads_demo.py
"$VENV/bin/fprofile" export out/threads_demo.fpt -o out/threads_demo.html
"$VENV/bin/fprofile" stats out/threads_demo.fpt --top 10
cat <<TXT

Trace written: out/threads_demo.fpt (and a self-contained page: out/threads_demo.html)
View it:
  - in a browser, no server:   open out/threads_demo.html
  - standalone viewer:         $VENV/bin/fprofile view out/threads_demo.fpt
  - in Jupyter:                $VENV/bin/jupyter lab   then:  import fprofile_jupyter as fp; fp.load("out/threads_demo.fpt")
  - in Perfetto / speedscope:  $VENV/bin/fprofile convert out/threads_demo.fpt out/threads_demo.perfetto.json
TXT
