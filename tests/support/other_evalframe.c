/* other_evalframe: a stand-in for another tool's PEP 523 eval-frame function (a debugger such as
 * pydevd, torch.compile), used by the recording tests to check that fprofile chains to it and
 * restores it. CPython 3.11 only (the tests that use it run there).
 *   start(sub): installs an eval-frame function that counts the entries and exits of frames whose
 *               co_filename contains `sub`, then runs the frame with the default evaluator;
 *   stop() -> count: puts the default evaluator back, returns the count.
 * Built by the tests with the system C compiler (see _other_evalframe in tests/test_recording.py). */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE /* 3.11 reaches a frame's code object only through the internal struct */
#include <Python.h>
#include <internal/pycore_frame.h>
#include <string.h>

static char sub[512];
static long count;

static PyObject *eval(PyThreadState *ts, struct _PyInterpreterFrame *f, int throwflag) {
    const char *file = PyUnicode_AsUTF8(f->f_code->co_filename);
    int mine = file != NULL && strstr(file, sub) != NULL;
    if (file == NULL) PyErr_Clear();
    count += mine;
    PyObject *r = _PyEval_EvalFrameDefault(ts, f, throwflag);
    count += mine;
    return r;
}

static PyObject *start(PyObject *self, PyObject *args) {
    const char *s;
    if (!PyArg_ParseTuple(args, "s", &s)) return NULL;
    strncpy(sub, s, sizeof(sub) - 1);
    count = 0;
    _PyInterpreterState_SetEvalFrameFunc(PyInterpreterState_Get(), eval);
    Py_RETURN_NONE;
}

static PyObject *stop(PyObject *self, PyObject *args) {
    _PyInterpreterState_SetEvalFrameFunc(PyInterpreterState_Get(), _PyEval_EvalFrameDefault);
    return PyLong_FromLong(count);
}

static PyMethodDef methods[] = {
    {"start", start, METH_VARARGS, "start(sub): install the counting eval-frame function"},
    {"stop", stop, METH_NOARGS, "stop() -> count: restore the default evaluator"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "other_evalframe", NULL, -1, methods};

PyMODINIT_FUNC PyInit_other_evalframe(void) { return PyModule_Create(&module); }
