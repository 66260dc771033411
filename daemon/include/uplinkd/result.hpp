// SPDX-License-Identifier: Apache-2.0
// Result<T>: a value or an Error with a stable code and a human message. Used across every module
// and plugin boundary instead of exceptions. Thread: any (plain value type).
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace uplinkd {

/// An error that explains itself: `code` is stable and machine-readable (it becomes the API's
/// error code), `message` is plain words for a person, with context prepended as it travels up.
struct Error {
    std::string code;
    std::string message;

    /// Returns a copy whose message reads "context: message".
    [[nodiscard]] Error withContext(std::string_view context) const {
        return Error{code, std::string(context) + ": " + message};
    }
};

inline Error makeError(std::string code, std::string message) {
    return Error{std::move(code), std::move(message)};
}

/// Wraps an Error so that `return fail(...)` converts into any Result<T>.
struct Failure {
    Error error;
};
inline Failure fail(Error e) {
    return Failure{std::move(e)};
}
inline Failure fail(std::string code, std::string message) {
    return Failure{Error{std::move(code), std::move(message)}};
}

template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
    Result(Failure f) : v_(std::in_place_index<1>, std::move(f.error)) {}  // NOLINT

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const { return std::get<1>(v_); }
    Failure failure() const { return Failure{error()}; }
    /// The error with context added, ready to return from the caller.
    Failure failure(std::string_view context) const {
        return Failure{error().withContext(context)};
    }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Failure f) : error_(std::move(f.error)), ok_(false) {}  // NOLINT

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return error_; }
    Failure failure() const { return Failure{error_}; }
    Failure failure(std::string_view context) const { return Failure{error_.withContext(context)}; }

  private:
    Error error_;
    bool ok_ = true;
};

using Status = Result<void>;
inline Status okStatus() {
    return {};
}

}  // namespace uplinkd
