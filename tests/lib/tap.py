"""tap.py - run the unittest tests of __main__ and print TAP for automake's tap-driver.

Usage, at the bottom of a test file:

    if __name__ == "__main__":
        tap.main()

Optional command-line arguments select tests by name ("TestClass" or
"TestClass.test_name"). Output: a "1..N" plan, then one "ok K - Class.test" or
"not ok K - Class.test" line per test, failures followed by their traceback as
"# " comment lines. The exit status is 0 unless the tests could not be loaded;
the driver counts the results.
"""

import sys
import time
import traceback
import unittest

__all__ = ["main", "TapResult"]


def _comment(text, out):
    for line in text.rstrip("\n").split("\n"):
        out.write("# " + line + "\n")


class TapResult(unittest.TestResult):
    """Collects every outcome of one test (the test itself, tearDown, cleanups,
    subtests) and prints a single TAP line when the test stops."""

    def __init__(self, out):
        super().__init__()
        self.out = out
        self.number = 0
        self._problems = []
        self._skip = None
        self._started = 0.0

    @staticmethod
    def _name(test):
        cls = type(test)
        method = getattr(test, "_testMethodName", None)
        if method is None:  # e.g. an error in setUpClass / setUpModule
            return str(test)
        return "%s.%s" % (cls.__name__, method)

    def startTest(self, test):
        super().startTest(test)
        self._problems = []
        self._skip = None
        self._started = time.monotonic()

    def _problem(self, kind, test, err):
        self._problems.append((kind, self._exc_info_to_string(err, test)))

    def addError(self, test, err):
        super().addError(test, err)
        if isinstance(test, unittest.TestCase):
            self._problem("ERROR", test, err)
        else:  # setUpClass/setUpModule failure: report as its own test line
            self.number += 1
            self.out.write("not ok %d - %s\n" % (self.number, test))
            _comment("".join(traceback.format_exception(*err)), self.out)
            self.out.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._problem("FAIL", test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "FAIL" if issubclass(err[0], test.failureException) else "ERROR"
            self._problems.append((kind + " " + subtest._subDescription(),
                                   self._exc_info_to_string(err, test)))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._skip = reason

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._problems.append(("UNEXPECTED SUCCESS", "the test was expected to fail\n"))

    def stopTest(self, test):
        super().stopTest(test)
        self.number += 1
        name = self._name(test)
        took = time.monotonic() - self._started
        if self._problems:
            self.out.write("not ok %d - %s\n" % (self.number, name))
            for kind, text in self._problems:
                _comment("%s: %s" % (kind, name), self.out)
                _comment(text, self.out)
        elif self._skip is not None:
            self.out.write("ok %d - %s # SKIP %s\n" % (self.number, name, self._skip))
        else:
            self.out.write("ok %d - %s\n" % (self.number, name))
        self.out.write("# %s took %.2fs\n" % (name, took))
        self.out.flush()


def _count(suite):
    n = 0
    for t in suite:
        n += _count(t) if isinstance(t, unittest.TestSuite) else 1
    return n


def main(argv=None, module="__main__"):
    argv = sys.argv[1:] if argv is None else argv
    out = sys.stdout
    loader = unittest.TestLoader()
    mod = sys.modules[module]
    try:
        if argv:
            suite = loader.loadTestsFromNames(argv, mod)
        else:
            suite = loader.loadTestsFromModule(mod)
    except Exception:
        out.write("1..1\nnot ok 1 - loading tests\n")
        _comment(traceback.format_exc(), out)
        out.flush()
        sys.exit(1)
    total = _count(suite)
    out.write("1..%d\n" % total)
    out.flush()
    if total == 0:
        out.write("# no tests found\n")
    result = TapResult(out)
    suite.run(result)
    # setUpClass/setUpModule errors print extra "not ok" lines; keep the plan honest.
    if result.number != total:
        out.write("# warning: ran %d test lines for a plan of %d\n" % (result.number, total))
    out.write("# %d run, %d failures, %d errors, %d skipped\n" % (
        result.testsRun, len(result.failures), len(result.errors), len(result.skipped)))
    out.flush()
    sys.exit(0)
