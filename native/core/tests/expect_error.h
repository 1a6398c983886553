// Shared assertion of the core tests: a call throws poser::Error with a code.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "errors.h"

// Runs fn, expecting a poser::Error with `code` whose message contains every
// fragment.
inline void expect_error(const std::function<void()>& fn, const std::string& code,
                         const std::vector<std::string>& fragments) {
  try {
    fn();
  } catch (const poser::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& f : fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos)
          << "message \"" << e.what() << "\" lacks \"" << f << "\"";
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected poser::Error " << code << ", got std::exception: " << e.what();
    return;
  }
  ADD_FAILURE() << "expected poser::Error " << code << ", nothing thrown";
}
