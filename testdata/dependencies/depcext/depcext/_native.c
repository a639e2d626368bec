/* Multiplies two integers; builds on Python 2.7 and every 3.x. */
#include <Python.h>

static PyObject *
mul(PyObject *self, PyObject *args)
{
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b))
        return NULL;
    return PyLong_FromLong(a * b);
}

static PyMethodDef methods[] = {
    {"mul", mul, METH_VARARGS, "Multiply two integers."},
    {NULL, NULL, 0, NULL}
};

#if PY_MAJOR_VERSION >= 3
static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods
};

PyMODINIT_FUNC
PyInit__native(void)
{
    return PyModule_Create(&module);
}
#else
PyMODINIT_FUNC
init_native(void)
{
    Py_InitModule("_native", methods);
}
#endif
