def _codebox_repl():
    # The persistent Python REPL of a codebox container. Cells arrive as JSON lines on
    # fd 3; each runs in __main__'s namespace, and a trailing expression's value is
    # printed the way Jupyter shows it. After each cell a marker goes to stdout (with
    # the status) and to stderr, so the agent can split the streams into cells.
    import ast, ctypes, json, os, signal, sys, traceback
    # Not dumpable: other processes of the user cannot open the REPL's descriptors
    # (its output pipes) through /proc.
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    main = sys.modules["__main__"].__dict__
    main.pop("_codebox_repl", None)
    marker = b"\x00CODEBOX-CELL-END\x00"
    ctl = os.fdopen(3, "rb")
    # SIGINT interrupts a running cell only; between cells it must not end the REPL.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.environ.get("CODEBOX_PYTHON_WARMUP"):
        try:
            exec(os.environ["CODEBOX_PYTHON_WARMUP"], main)
        except BaseException:
            pass
    os.write(1, marker + b"ready\n")
    os.write(2, marker + b"\n")
    while True:
        line = ctl.readline()
        if not line:
            return
        code = json.loads(line)["code"]
        status = "ok"
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            tree = ast.parse(code, "<cell>", "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            exec(compile(tree, "<cell>", "exec"), main)
            if last is not None:
                value = eval(compile(last, "<cell>", "eval"), main)
                if value is not None:
                    main["_"] = value
                    print(repr(value))
        except KeyboardInterrupt as e:
            status = "interrupted"
            tb = e.__traceback__.tb_next if e.__traceback__ else None
            traceback.print_exception(type(e), e, tb)
        except SyntaxError:
            status = "error"
            traceback.print_exc(limit=0)
        except BaseException as e:
            status = "error"
            tb = e.__traceback__.tb_next if e.__traceback__ else None
            traceback.print_exception(type(e), e, tb)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for f in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                f.flush()
            except BaseException:
                pass
        os.write(2, marker + b"\n")
        os.write(1, marker + status.encode() + b"\n")


_codebox_repl()
