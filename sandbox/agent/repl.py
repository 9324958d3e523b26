def _codebox_repl():
    # The persistent Python REPL of a codebox container. Cells arrive as JSON lines on
    # fd 3; each runs in __main__'s namespace, and a trailing expression's value is
    # printed the way Jupyter shows it. After each cell a marker goes to stdout (with
    # the status) and to stderr, so the agent can split the streams into cells.
    #
    # A cell may await client tools: each is an async function in __main__ taking one
    # dict and returning the tool result's text. Calls go to the agent as JSON lines on
    # fd 4, batched so that the calls a gather starts together travel together; the
    # answers come back on fd 5, read by a thread that settles each call's future.
    import ast, builtins, ctypes, itertools, json, os, signal, sys, threading, traceback
    # Not dumpable: other processes of the user cannot open the REPL's descriptors
    # (its output pipes) through /proc.
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    main = sys.modules["__main__"].__dict__
    main.pop("_codebox_repl", None)
    marker = b"\x00CODEBOX-CELL-END\x00"
    ctl = os.fdopen(3, "rb")
    # SIGINT interrupts a running cell only; between cells it must not end the REPL.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    class ToolError(Exception):
        """A client tool answered with is_error; the message is its result text."""

    builtins.ToolError = ToolError
    waiting = {}
    batch = []
    flushing = [False]
    ids = itertools.count(1)

    def settle(fut, msg):
        if fut.done():
            return
        status, content = msg.get("status"), msg.get("content", "")
        if status == "ok":
            fut.set_result(content)
        elif status == "timeout":
            fut.set_exception(TimeoutError(content))
        else:
            fut.set_exception(ToolError(content))

    def read_replies():
        for line in os.fdopen(5, "rb"):
            msg = json.loads(line)
            fut = waiting.pop(msg.get("id"), None)
            if fut is not None:
                fut.get_loop().call_soon_threadsafe(settle, fut, msg)

    reader = []

    def flush(loop, tries=0):
        # Calls made in the same pass of the event loop (asyncio.gather) go together:
        # wait while other callbacks are ready to run.
        if getattr(loop, "_ready", None) and tries < 64:
            loop.call_soon(flush, loop, tries + 1)
            return
        flushing[0] = False
        data = (json.dumps({"calls": batch}) + "\n").encode()
        batch.clear()
        while data:
            data = data[os.write(4, data):]

    def function(py, tool):
        async def call(input=None, /, **kwargs):
            if input is None:
                input = kwargs
            if not isinstance(input, dict):
                raise TypeError(f"{py}() takes one dict, not {type(input).__name__}")
            json.dumps(input)  # refuse what cannot be sent before anything is sent
            import asyncio

            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            cid = "call_%d" % next(ids)
            waiting[cid] = fut
            batch.append({"id": cid, "name": tool, "input": input})
            if not flushing[0]:
                flushing[0] = True
                loop.call_soon(flush, loop)
            try:
                return await fut
            finally:
                waiting.pop(cid, None)

        call.__name__ = call.__qualname__ = py
        call.__doc__ = f"Call the client tool {tool!r} with one dict; returns its result text."
        call._codebox_tool = tool
        return call

    def set_functions(functions):
        for name, value in list(main.items()):
            if getattr(value, "_codebox_tool", None) and name not in functions:
                del main[name]
        for py, tool in functions.items():
            main[py] = function(py, tool)
        if functions and not reader:
            reader.append(threading.Thread(target=read_replies, daemon=True))
            reader[0].start()

    loops = []
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT

    def run(code):
        # eval runs exec-mode code too; code that awaits at top level gives a
        # coroutine, which runs on the REPL's one event loop (made on first use, so
        # that cells which never await do not pay for importing asyncio).
        value = eval(code, main)
        if code.co_flags & 0x80:  # CO_COROUTINE
            if not loops:
                import asyncio

                loops.append(asyncio.new_event_loop())
                asyncio.set_event_loop(loops[0])
            value = loops[0].run_until_complete(value)
        return value

    def cell_frames(tb):
        # The traceback from the cell's own first frame, without the REPL's.
        t = tb
        while t is not None and t.tb_frame.f_code.co_filename != "<cell>":
            t = t.tb_next
        return t if t is not None else tb

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
        cell = json.loads(line)
        code = cell["code"]
        waiting.clear()
        batch.clear()
        set_functions(cell.get("functions") or {})
        status = "ok"
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            tree = ast.parse(code, "<cell>", "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            run(compile(tree, "<cell>", "exec", flags))
            if last is not None:
                value = run(compile(last, "<cell>", "eval", flags))
                if value is not None:
                    main["_"] = value
                    print(repr(value))
        except KeyboardInterrupt as e:
            status = "interrupted"
            traceback.print_exception(type(e), e, cell_frames(e.__traceback__))
            # What the interrupted cell was awaiting must not resume in a later one.
            if loops:
                try:
                    import asyncio

                    tasks = asyncio.all_tasks(loops[0])
                    for t in tasks:
                        t.cancel()
                    loops[0].run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                except BaseException:
                    pass
        except SyntaxError:
            status = "error"
            traceback.print_exc(limit=0)
        except BaseException as e:
            status = "error"
            traceback.print_exception(type(e), e, cell_frames(e.__traceback__))
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for f in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                f.flush()
            except BaseException:
                pass
        os.write(2, marker + b"\n")
        os.write(1, marker + status.encode() + b"\n")


_codebox_repl()
