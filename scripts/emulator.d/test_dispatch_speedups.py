"""The patched dispatch finds the same backends and actions as moto's own, without listing moto's
package or inspecting a response class on every request. Run by scripts/test with the other
emulator tests."""

from __future__ import annotations

import os
import sys
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from moto import backends  # noqa: E402
from moto.core import responses  # noqa: E402
from moto.sqs.responses import SQSResponse  # noqa: E402

import dispatch_speedups  # noqa: E402


class DispatchSpeedupsTest(unittest.TestCase):
    def setUp(self):
        dispatch_speedups.apply()

    def test_the_module_list_is_moto_s_own(self):
        self.assertEqual(
            list(backends.list_of_moto_modules()),
            list(dispatch_speedups.ORIGINAL_LIST_OF_MOTO_MODULES()),
        )
        self.assertIn("sqs", backends.list_of_moto_modules())

    def test_the_module_list_is_read_from_disk_once(self):
        list(backends.list_of_moto_modules())
        with mock.patch("os.listdir", side_effect=AssertionError("listed again")):
            self.assertIn("autoscaling", backends.list_of_moto_modules())

    def test_the_action_names_are_moto_s_own(self):
        self.assertEqual(
            set(responses.method_names_from_class(SQSResponse)),
            set(dispatch_speedups.ORIGINAL_METHOD_NAMES_FROM_CLASS(SQSResponse)),
        )
        self.assertIn("receive_message", responses.method_names_from_class(SQSResponse))

    def test_a_class_is_inspected_once(self):
        responses.method_names_from_class(SQSResponse)
        with mock.patch("inspect.getmembers", side_effect=AssertionError("inspected again")):
            self.assertIn("delete_message", responses.method_names_from_class(SQSResponse))


if __name__ == "__main__":
    unittest.main()
