// A small blocking HTTP/1.1 client for the end-to-end tests, over a POSIX
// socket to 127.0.0.1.
//
// It sends exactly the bytes it is given: the method, the target (so that
// "..", "%2F", bad escapes and odd bytes reach the server unmodified), the
// headers and the body; it adds only `Host` and, for a body, its
// `Content-Length` (unless the caller sets one of either). It reads one
// response: the status, the headers (looked up case-insensitively) and a
// body framed by Content-Length, chunked transfer encoding, or the end of
// the connection. A connection is kept alive between requests until the
// server closes it or says `Connection: close`; the next request then
// opens a new one.
//
// RawExchange sends arbitrary bytes and reads whatever comes back until
// the server closes (or a timeout passes), for malformed-HTTP and
// slow-client tests; ParseResponse reads a response out of such bytes.
//
// Every read and write has a timeout (default 20 s) so that a server that
// never answers fails a test instead of hanging it; tests never assert on
// time. Not thread-safe: one HttpClient per thread.
#ifndef SEGD_TESTS_HTTP_CLIENT_H_
#define SEGD_TESTS_HTTP_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace segd::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

inline bool EqualsFolded(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

struct HttpResponse {
  // 0 when no response was read (connection refused, closed or timed out);
  // `error` then says why.
  int status = 0;
  std::string reason;
  std::string version;  // "HTTP/1.1"
  Headers headers;
  std::string body;  // chunked bodies are joined
  bool chunked = false;
  std::string error;

  // The first header named `name` (ASCII case folded).
  std::optional<std::string> Header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (EqualsFolded(key, name)) return value;
    }
    return std::nullopt;
  }
  bool ok() const { return status != 0; }
};

namespace internal {

using Clock = std::chrono::steady_clock;

inline int ConnectLoopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address),
                sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Waits until `fd` is readable (or writable); false on timeout.
inline bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

// Sends all of `data`; false when the peer is gone or the time is up.
inline bool SendAll(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    if (!WaitFor(fd, POLLOUT, deadline)) return false;
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads what is there into `buffer`: >0 bytes read, 0 at the end of the
// stream, -1 on an error or timeout.
inline ssize_t ReadSome(int fd, std::string& buffer,
                        Clock::time_point deadline) {
  if (!WaitFor(fd, POLLIN, deadline)) return -1;
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) buffer.append(chunk, static_cast<size_t>(n));
    return n;
  }
}

// Reads one response from `fd`; `buffer` holds bytes read before and keeps
// those read past this response. `*peer_closed` tells whether the server
// ended the stream.
inline HttpResponse ReadResponse(int fd, std::string& buffer,
                                 Clock::time_point deadline,
                                 bool* peer_closed) {
  HttpResponse response;
  *peer_closed = false;
  auto fill = [&]() -> bool {
    const ssize_t n = ReadSome(fd, buffer, deadline);
    if (n == 0) *peer_closed = true;
    return n > 0;
  };
  for (;;) {
    // The head.
    size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        response.error = *peer_closed ? "closed before a response header"
                                      : "no response header in time";
        return response;
      }
    }
    const std::string head = buffer.substr(0, end);
    buffer.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    const size_t sp1 = status_line.find(' ');
    if (sp1 == std::string::npos) {
      response.error = "bad status line: " + status_line;
      return response;
    }
    response.version = status_line.substr(0, sp1);
    const size_t sp2 = status_line.find(' ', sp1 + 1);
    response.status =
        std::atoi(status_line.substr(sp1 + 1, sp2 - sp1 - 1).c_str());
    response.reason =
        sp2 == std::string::npos ? "" : status_line.substr(sp2 + 1);
    response.headers.clear();
    while (line_end != std::string::npos) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line =
          head.substr(start, line_end == std::string::npos ? std::string::npos
                                                           : line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.erase(0, 1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.pop_back();
      response.headers.emplace_back(line.substr(0, colon), std::move(value));
    }
    // 1xx answers (100 Continue) come before the real one.
    if (response.status >= 100 && response.status < 200) continue;
    break;
  }
  const std::optional<std::string> encoding =
      response.Header("Transfer-Encoding");
  const std::optional<std::string> length = response.Header("Content-Length");
  if (encoding && EqualsFolded(*encoding, "chunked")) {
    response.chunked = true;
    for (;;) {
      size_t eol;
      while ((eol = buffer.find("\r\n")) == std::string::npos) {
        if (!fill()) {
          response.error = "chunked body cut short";
          return response;
        }
      }
      const size_t size =
          std::strtoull(buffer.substr(0, eol).c_str(), nullptr, 16);
      buffer.erase(0, eol + 2);
      if (size == 0) {
        // Trailers, then an empty line.
        for (;;) {
          while ((eol = buffer.find("\r\n")) == std::string::npos) {
            if (!fill()) {
              response.error = "chunked trailer cut short";
              return response;
            }
          }
          const bool last = eol == 0;
          buffer.erase(0, eol + 2);
          if (last) return response;
        }
      }
      while (buffer.size() < size + 2) {
        if (!fill()) {
          response.error = "chunk cut short";
          return response;
        }
      }
      response.body.append(buffer, 0, size);
      buffer.erase(0, size + 2);
    }
  }
  if (length) {
    const size_t size = std::strtoull(length->c_str(), nullptr, 10);
    while (buffer.size() < size) {
      if (!fill()) {
        response.error = "body cut short";
        return response;
      }
    }
    response.body = buffer.substr(0, size);
    buffer.erase(0, size);
    return response;
  }
  if (response.status == 204 || response.status == 304) return response;
  // No framing: the body runs to the end of the connection.
  while (fill()) {
  }
  response.body = std::move(buffer);
  buffer.clear();
  *peer_closed = true;
  return response;
}

}  // namespace internal

class HttpClient {
 public:
  explicit HttpClient(uint16_t port, std::chrono::milliseconds timeout =
                                         std::chrono::seconds(20))
      : port_(port), timeout_(timeout) {}
  ~HttpClient() { Close(); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&& other) noexcept
      : port_(other.port_),
        timeout_(other.timeout_),
        defaults_(std::move(other.defaults_)),
        fd_(std::exchange(other.fd_, -1)),
        buffer_(std::move(other.buffer_)),
        connections_(other.connections_) {}

  // Default headers sent with every request (e.g. Authorization).
  void SetDefaultHeader(std::string name, std::string value) {
    defaults_.emplace_back(std::move(name), std::move(value));
  }

  // Sends one request and reads its response on the kept-alive connection
  // (a new one when there is none).
  HttpResponse Request(std::string_view method, std::string_view target,
                       std::string_view body = {},
                       const Headers& headers = {}) {
    return Exchange(Format(method, target, body, headers));
  }

  HttpResponse Get(std::string_view target, const Headers& headers = {}) {
    return Request("GET", target, {}, headers);
  }
  HttpResponse Delete(std::string_view target, const Headers& headers = {}) {
    return Request("DELETE", target, {}, headers);
  }
  // A body with `content_type` ("" for no Content-Type header).
  HttpResponse Post(std::string_view target, std::string_view body,
                    std::string_view content_type = "application/json") {
    return Request("POST", target, body, TypeHeader(content_type));
  }
  HttpResponse Put(std::string_view target, std::string_view body,
                   std::string_view content_type = "application/json") {
    return Request("PUT", target, body, TypeHeader(content_type));
  }
  HttpResponse Patch(std::string_view target, std::string_view body,
                     std::string_view content_type = "application/json") {
    return Request("PATCH", target, body, TypeHeader(content_type));
  }

  // The bytes Request would send.
  std::string Format(std::string_view method, std::string_view target,
                     std::string_view body, const Headers& headers) const {
    std::string out;
    out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
    Headers all = defaults_;
    all.insert(all.end(), headers.begin(), headers.end());
    bool has_host = false, has_length = false;
    for (const auto& [name, value] : all) {
      has_host |= EqualsFolded(name, "Host");
      has_length |= EqualsFolded(name, "Content-Length") ||
                    EqualsFolded(name, "Transfer-Encoding");
    }
    if (!has_host) out.append("Host: 127.0.0.1\r\n");
    for (const auto& [name, value] : all) {
      out.append(name).append(": ").append(value).append("\r\n");
    }
    if (!has_length && (!body.empty() || method == "POST" || method == "PUT" ||
                        method == "PATCH")) {
      out.append("Content-Length: ")
          .append(std::to_string(body.size()))
          .append("\r\n");
    }
    out.append("\r\n").append(body);
    return out;
  }

  // Sends `bytes` as they are on the kept-alive connection; false when
  // they could not be sent. Pair with ReadResponse.
  bool SendRaw(std::string_view bytes) {
    if (!EnsureConnected()) return false;
    return internal::SendAll(fd_, bytes, Deadline());
  }
  HttpResponse ReadResponse() {
    if (fd_ < 0) {
      HttpResponse r;
      r.error = "not connected";
      return r;
    }
    bool closed = false;
    HttpResponse r = internal::ReadResponse(fd_, buffer_, Deadline(), &closed);
    const std::optional<std::string> connection = r.Header("Connection");
    if (closed || !r.ok() ||
        (connection && EqualsFolded(*connection, "close"))) {
      Close();
    }
    return r;
  }

  bool connected() const { return fd_ >= 0; }
  // Connections opened so far (to tell keep-alive from reconnects).
  int connections() const { return connections_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buffer_.clear();
  }
  bool Connect() { return EnsureConnected(); }

 private:
  static Headers TypeHeader(std::string_view content_type) {
    if (content_type.empty()) return {};
    return {{"Content-Type", std::string(content_type)}};
  }
  internal::Clock::time_point Deadline() const {
    return internal::Clock::now() + timeout_;
  }
  bool EnsureConnected() {
    if (fd_ >= 0) return true;
    fd_ = internal::ConnectLoopback(port_);
    buffer_.clear();
    if (fd_ >= 0) ++connections_;
    return fd_ >= 0;
  }

  HttpResponse Exchange(const std::string& bytes) {
    // A kept-alive connection the server has closed meanwhile fails at
    // once, before any answer; then the request goes again on a new one.
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = fd_ >= 0;
      if (!EnsureConnected()) {
        HttpResponse r;
        r.error = "cannot connect: " + std::string(std::strerror(errno));
        return r;
      }
      if (!internal::SendAll(fd_, bytes, Deadline())) {
        // The server may have answered (413) and closed before taking the
        // whole request: its answer is still there to read.
        HttpResponse early = ReadResponse();
        if (early.ok()) return early;
        Close();
        if (reused) continue;
        early.error = "cannot send the request";
        return early;
      }
      HttpResponse r = ReadResponse();
      if (!r.ok() && reused && r.error.starts_with("closed")) continue;
      return r;
    }
    HttpResponse r;
    r.error = "the connection closed twice";
    return r;
  }

  uint16_t port_;
  std::chrono::milliseconds timeout_;
  Headers defaults_;
  int fd_ = -1;
  std::string buffer_;  // bytes read past the last response
  int connections_ = 0;
};

// What the server sends back for `bytes` until it closes the connection or
// `timeout` passes (then `timed_out`). With `half_close`, the write side is
// shut down after sending, as a client with nothing more to say does.
struct RawResult {
  std::string received;
  bool connected = false;
  bool closed = false;     // the server closed (or reset) the connection
  bool timed_out = false;  // it was still open when the time was up
};

inline RawResult RawExchange(
    uint16_t port, std::string_view bytes,
    std::chrono::milliseconds timeout = std::chrono::seconds(20),
    bool half_close = false) {
  RawResult result;
  const int fd = internal::ConnectLoopback(port);
  if (fd < 0) return result;
  result.connected = true;
  const auto deadline = internal::Clock::now() + timeout;
  internal::SendAll(fd, bytes, deadline);
  if (half_close) ::shutdown(fd, SHUT_WR);
  for (;;) {
    if (!internal::WaitFor(fd, POLLIN, deadline)) {
      result.timed_out = true;
      break;
    }
    char chunk[65536];
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      result.closed = true;
      break;
    }
    result.received.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  return result;
}

// The first response in `bytes` (as RawExchange received them); status 0
// when there is none.
inline HttpResponse ParseResponse(std::string bytes) {
  // Reads from a buffer only: a descriptor that is never readable, with a
  // deadline already past, ends the read where the bytes end.
  bool closed = false;
  return internal::ReadResponse(-1, bytes, internal::Clock::now(), &closed);
}

}  // namespace segd::testing

#endif  // SEGD_TESTS_HTTP_CLIENT_H_
