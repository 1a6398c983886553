// Strict JSON parsing for untrusted files, and bounded rendering for messages.
//
// nlohmann's parser keeps its own stack of open containers (no recursion), so
// a token pass through its SAX interface is safe on any input; the DOM is only
// built once that pass has bounded the depth. dump() recurses, so messages
// render values through json_excerpt instead.

#include "strict_json.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "errors.h"

namespace poser {

namespace {

using json = nlohmann::json;

// Token pass: refuses too-deep nesting and repeated keys.
class Checker {
 public:
  explicit Checker(size_t max_depth) : max_depth_(max_depth) {}

  bool null() { return value(); }
  bool boolean(bool) { return value(); }
  bool number_integer(json::number_integer_t) { return value(); }
  bool number_unsigned(json::number_unsigned_t) { return value(); }
  bool number_float(json::number_float_t, const json::string_t&) { return value(); }
  bool string(json::string_t&) { return value(); }
  bool binary(json::binary_t&) { return value(); }

  bool start_object(size_t) { return open(true); }
  bool start_array(size_t) { return open(false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(json::string_t& k) {
    Frame& f = frames_.back();
    if (!f.keys.insert(k).second) {
      error_ = "duplicate key " + quoted_excerpt(k, 120) + " in the object at " + path();
      return false;
    }
    f.key = k;
    return true;
  }

  bool parse_error(size_t position, const std::string&, const nlohmann::detail::exception& e) {
    error_ = "malformed JSON at byte " + std::to_string(position) + ": " + e.what();
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  struct Frame {
    bool object;
    size_t index = 0;                  // arrays: elements seen
    std::string key;                   // objects: the current key
    std::unordered_set<std::string> keys;
  };

  bool value() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
    return true;
  }

  bool open(bool object) {
    if (frames_.size() >= max_depth_) {
      error_ = "JSON nested deeper than " + std::to_string(max_depth_) + " levels (at " + path() + ")";
      return false;
    }
    value();
    frames_.push_back(Frame{object, 0, {}, {}});
    return true;
  }

  bool close() {
    frames_.pop_back();
    return true;
  }

  // Where the parser is, e.g. weight_map or w.shape[3]; the top level is "the top level".
  std::string path() const {
    std::string out;
    for (size_t i = 0; i < frames_.size() && out.size() < 200; ++i) {
      const Frame& f = frames_[i];
      if (i + 1 == frames_.size() && f.object) break;  // the object being read
      if (f.object) {
        if (!out.empty()) out += '.';
        out += quoted_excerpt(f.key, 60);
      } else {
        out += "[" + std::to_string(f.index == 0 ? 0 : f.index - 1) + "]";
      }
    }
    if (out.size() >= 200) out += "...";
    return out.empty() ? "the top level" : out;
  }

  size_t max_depth_;
  std::vector<Frame> frames_;
  std::string error_;
};

std::string scalar_text(const json& v, size_t max_chars) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.size() > max_chars)
      return json(s.substr(0, max_chars)).dump(-1, ' ', false, json::error_handler_t::replace) + "...";
  }
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

json parse_strict_json(std::string_view text, const std::string& where, size_t max_depth) {
  Checker checker(max_depth);
  if (!json::sax_parse(text.begin(), text.end(), &checker))
    throw Error("E_FORMAT", where + ": " + checker.error());
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    throw Error("E_FORMAT", where + ": malformed JSON: " + e.what());
  }
}

std::string json_excerpt(const json& value, size_t max_chars) {
  struct Frame {
    const json* container;
    json::const_iterator it;
    bool first;
  };
  std::string out;
  std::vector<Frame> stack;
  auto visit = [&](const json& v) {
    if (v.is_object() || v.is_array()) {
      out += v.is_object() ? '{' : '[';
      stack.push_back(Frame{&v, v.cbegin(), true});
    } else {
      out += scalar_text(v, max_chars);
    }
  };
  visit(value);
  while (!stack.empty() && out.size() <= max_chars) {
    Frame& f = stack.back();
    if (f.it == f.container->cend()) {
      out += f.container->is_object() ? '}' : ']';
      stack.pop_back();
      continue;
    }
    if (!f.first) out += ',';
    f.first = false;
    if (f.container->is_object()) out += scalar_text(json(f.it.key()), max_chars) + ':';
    const json& child = *f.it;
    ++f.it;
    visit(child);  // may push: f is not used after this
  }
  if (out.size() > max_chars || !stack.empty()) {
    out.resize(std::min(out.size(), max_chars));
    out += "...";
  }
  return out;
}

std::string quoted_excerpt(std::string_view text, size_t max_chars) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    if (i >= max_chars) {
      out += "...";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "\"";
}

}  // namespace poser
