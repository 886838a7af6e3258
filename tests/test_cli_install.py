"""The library as another program uses it (SPEC: Library): `cmake --install` (into a DESTDIR), then a C
program of its own (install_consumer.c) built with `pkg-config --cflags --libs ooc`, with and without
--static, and as C++ (the headers declare extern "C"), against the installed headers and archive alone; its
fit must give the tool's inertia, n_iter and centres bit for bit."""
import json
import os
import shutil
import subprocess
import unittest

import ooc_testlib as T

HERE = os.path.dirname(os.path.abspath(__file__))
INPUT = "blobs:samples=60000,features=5,centers=4,seed=21,chunk_rows=7000"


class Installed(T.TempDirTest):
    def run_ok(self, argv, env=None):
        p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env, timeout=300)
        self.assertEqual(p.returncode, 0, f"{' '.join(map(str, argv))}:\n{p.stdout}\n{p.stderr}")
        return p.stdout

    def test_a_program_of_its_own_fits_as_the_tool(self):
        for tool in ("cmake", "pkg-config", "cc", "g++"):
            self.assertIsNotNone(shutil.which(tool), f"{tool} is not installed (tools/setup.sh installs it)")
        dest = self.path("dest")
        self.run_ok(["cmake", "--install", T.BIN, "--prefix", "/usr/local"], env=dict(os.environ, DESTDIR=dest))
        pc_dirs = [root for root, dirs, files in os.walk(dest) if "ooc.pc" in files]
        self.assertEqual(len(pc_dirs), 1, "ooc.pc is not installed once")
        env = dict(os.environ, PKG_CONFIG_PATH=pc_dirs[0])
        tool = json.loads(self.run_ok([T.tool("kmeans-ooc"), "fit", INPUT, "-k", 4, "--json", "-q"]))
        source = os.path.join(HERE, "install_consumer.c")
        for static, compiler in (([], ["cc", "-std=c11", source]), (["--static"], ["cc", "-std=c11", source]),
                                 ([], ["g++", "-std=c++17", "-x", "c++", source, "-x", "none"])):
            with self.subTest(static=static, compiler=compiler[0]):
                flags = self.run_ok(["pkg-config", "--cflags", "--libs", *static, "ooc"], env=env).split()
                self.assertFalse(any(T.BIN in f or HERE in f for f in flags),
                                 f"flags point into the build tree: {flags}")
                sanitize = ["-fsanitize=address,undefined"] if T.SANITIZED else []
                program = self.path("consumer")
                self.run_ok([*compiler, "-Wall", "-Werror", *sanitize, "-o", program, *flags])
                lines = self.run_ok([program, INPUT, 4]).split()
                self.assertEqual(float(lines[0]), tool["inertia"])
                self.assertEqual(int(lines[1]), tool["n_iter"])
                centres = [float(v) for v in lines[2:]]
                self.assertEqual(centres, [v for row in tool["cluster_centers"] for v in row])


if __name__ == "__main__":
    unittest.main()
