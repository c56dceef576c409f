#include "api/server.h"

#include <tbb/task_arena.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <list>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "base/ascii.h"
#include "base/thread_name.h"

namespace segd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto kNoThrow = asio::experimental::as_tuple(use_awaitable);
// Once stopping, how long a connection with nothing to read yet waits for a
// request: long enough for one sent just before the stop to arrive, short
// enough not to hold the stop. One whose bytes are already in the kernel,
// or read in part, was sent before the stop, and is read with the usual
// timeouts, however long a loaded machine takes to get to it.
constexpr auto kLastRequestWait = std::chrono::milliseconds(500);

// Whether bytes wait to be read on `stream`'s socket.
bool HasBytesWaiting(beast::tcp_stream& stream) {
  boost::system::error_code ec;
  return stream.socket().available(ec) > 0 && !ec;
}

// The media type of a Content-Type value: lower case, parameters dropped.
std::string MediaType(std::string_view value) {
  value = value.substr(0, value.find(';'));
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  return FoldAscii(value);
}

// Compares in time that depends only on the lengths.
bool SameKey(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

// Routes answered on the I/O thread: a lookup or two, never a wait.
bool AnswersInline(RouteId id) {
  switch (id) {
    case RouteId::kGetProfile:
    case RouteId::kProfileSegments:
    case RouteId::kIdentity:
    case RouteId::kContains:
    case RouteId::kGetSegment:
    case RouteId::kGetSchema:
    case RouteId::kHealth:
      return true;
    default:
      return false;
  }
}

// Writes of the schema and of segments, which run on the write pool;
// profile writes (Api::WritesBatch) hold no thread while they wait.
bool IsPoolWrite(RouteId id) {
  switch (id) {
    case RouteId::kPutSegment:
    case RouteId::kDeleteSegment:
    case RouteId::kEditMembers:
    case RouteId::kPutSchema:
      return true;
    default:
      return false;
  }
}

// Whether Beast found bytes that are not HTTP/1 (not a client that left).
bool IsParseError(const boost::system::error_code& ec) {
  return ec.category() ==
             http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace

class Server::Impl {
 public:
  Impl(Api& api, Metrics& metrics, ServerOptions options)
      : api_(api),
        metrics_(metrics),
        options_(std::move(options)),
        contexts_(MakeContexts(std::max(1, options_.io_threads))),
        acceptor_(*contexts_.front()),
        reads_(options_.read_threads),
        writes_(options_.write_threads) {}

  Status Start();
  uint16_t port() const { return port_; }
  void Stop(std::chrono::milliseconds grace);

 private:
  // One connection: its stream and whether it waits for a request.
  struct Connection {
    beast::tcp_stream stream;
    bool idle = true;                 // guarded by the server's mu_
    asio::steady_timer last_request;  // once stopping, while idle
    // What Serve has read and not yet parsed (part of a request, or one
    // pipelined behind the last), while it serves; its own thread's.
    const beast::flat_buffer* unparsed = nullptr;
    explicit Connection(tcp::socket socket)
        : stream(std::move(socket)), last_request(stream.get_executor()) {}
  };

  // One I/O context per I/O thread, each run by its thread alone: a
  // connection lives on one context, so its handlers need no strand, and
  // the threads share no queue and no lock.
  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int n);
  awaitable<void> Accept();
  // Serves an accepted socket until it closes.
  void Begin(tcp::socket socket);
  // On the acceptor's context, once stopping: begins the connections the
  // kernel has taken but the server not yet (each then waits a moment for
  // a request, Exchange), and closes the acceptor.
  void AcceptWaitingAndClose();
  // On the connection's context, once stopping: closes `connection` if no
  // request begins to arrive on it within kLastRequestWait.
  void CloseUnlessRequested(std::shared_ptr<Connection> connection);
  awaitable<void> Serve(std::shared_ptr<Connection> connection);
  // Reads and answers one request; false when the connection must close.
  awaitable<bool> Exchange(Connection& connection, beast::flat_buffer& buffer,
                           bool first);
  // Writes the answer; false when the client is gone.
  awaitable<bool> Send(Connection& connection, ApiResponse response,
                       unsigned version, bool keep_alive);
  awaitable<ApiResponse> Dispatch(const ApiRequest& request);
  // Answers a read on the read pool.
  ApiResponse Read(const ApiRequest& request);
  // Database::WriteAsync as an awaitable.
  awaitable<std::vector<WriteOutcome>> WriteAsync(WriteBatch batch);

  Api& api_;
  Metrics& metrics_;
  const ServerOptions options_;
  // Set when Accept returns, every connection it took begun. Declared
  // before the contexts, which hold Accept's frame, so as to outlive them.
  std::promise<void> accept_done_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  tcp::acceptor acceptor_;  // on the first context
  asio::thread_pool reads_;
  asio::thread_pool writes_;
  std::atomic<int> reads_in_flight_{0};
  // Writes handed to the database and not yet answered by it; drained_ is
  // notified, under mu_, when the last is.
  std::atomic<int> writes_in_flight_{0};
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;

  std::mutex mu_;
  std::condition_variable drained_;
  std::list<std::shared_ptr<Connection>> connections_;  // guarded by mu_
  bool stopping_ = false;                               // guarded by mu_
  bool stopped_ = false;
};

Status Server::Impl::Start() {
  boost::system::error_code ec;
  const asio::ip::address address =
      asio::ip::make_address(options_.address, ec);
  if (ec) {
    return Status(ErrorCode::kMalformed, "cannot listen on \"" +
                                             options_.address +
                                             "\": not an "
                                             "IP address");
  }
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(ErrorCode::kIo, "cannot listen on " + options_.address + ":" +
                                      std::to_string(options_.port) + ": " +
                                      ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(acceptor_.get_executor(), Accept(), asio::detached);
  for (const std::unique_ptr<asio::io_context>& context : contexts_) {
    threads_.emplace_back([&context = *context] {
      NameThisThread("segd-io");
      // A context with no connection yet has no work; it runs until Stop.
      const auto work = asio::make_work_guard(context);
      context.run();
    });
  }
  return Status::Ok();
}

void Server::Impl::Stop(std::chrono::milliseconds grace) {
  {
    std::unique_lock lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    // Busy connections close after their answer. An idle one may hold a
    // request sent before the stop, in the kernel or read in part: its
    // read goes on for a moment more, then it closes.
    for (const std::shared_ptr<Connection>& c : connections_) {
      if (c->idle) {
        asio::post(c->stream.get_executor(),
                   [this, c] { CloseUnlessRequested(c); });
      }
    }
  }
  if (threads_.empty()) {  // never started
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  } else {
    // The connections begun are waited for below: Accept, which may hold
    // one the reactor took before the acceptor closed, must be done.
    asio::post(acceptor_.get_executor(), [this] { AcceptWaitingAndClose(); });
    accept_done_.get_future().wait();
  }
  {
    std::unique_lock lock(mu_);
    drained_.wait_for(lock, grace, [this] { return connections_.empty(); });
  }
  {
    // A write handed to the database is answered by it in any case; its
    // answer is posted here, so the I/O context must outlive the wait.
    std::unique_lock lock(mu_);
    drained_.wait(lock, [this] { return writes_in_flight_ == 0; });
  }
  for (const std::unique_ptr<asio::io_context>& context : contexts_) {
    context->stop();
  }
  for (std::thread& t : threads_) t.join();
  reads_.join();
  writes_.join();
}

void Server::Impl::CloseUnlessRequested(std::shared_ptr<Connection> c) {
  // The read under way keeps the timeout it began with (Beast's
  // expires_after sets the next read's), so it is cancelled instead.
  c->last_request.expires_after(kLastRequestWait);
  c->last_request.async_wait([this, c](boost::system::error_code ec) {
    if (ec) return;
    {
      std::lock_guard lock(mu_);
      if (!c->idle) return;  // a request came: it is answered, then closed
    }
    if (HasBytesWaiting(c->stream) ||
        (c->unparsed != nullptr && c->unparsed->size() > 0)) {
      CloseUnlessRequested(c);  // a request begun, read in part or not yet
      return;
    }
    c->stream.cancel();
  });
}

std::vector<std::unique_ptr<asio::io_context>> Server::Impl::MakeContexts(
    int n) {
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int i = 0; i < n; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
  }
  return contexts;
}

awaitable<void> Server::Impl::Accept() {
  struct Done {
    std::promise<void>& done;
    ~Done() { done.set_value(); }
  } done{accept_done_};
  // Connections are dealt to the contexts in turn.
  for (size_t next = 0;; next = (next + 1) % contexts_.size()) {
    auto [ec, socket] = co_await acceptor_.async_accept(
        contexts_[next]->get_executor(), kNoThrow);
    // A socket taken just before the acceptor closed is served like any
    // other: its client may have sent a whole request before the stop.
    if (!ec) Begin(std::move(socket));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
      co_return;
    }
    if (ec) {
      // Out of descriptors, most likely: say so, breathe, go on.
      std::fprintf(stderr, "segd: accept failed: %s\n", ec.message().c_str());
      asio::steady_timer pause(co_await asio::this_coro::executor,
                               std::chrono::milliseconds(50));
      co_await pause.async_wait(kNoThrow);
    }
  }
}

void Server::Impl::Begin(tcp::socket socket) {
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto connection = std::make_shared<Connection>(std::move(socket));
  {
    std::lock_guard lock(mu_);
    connections_.push_back(connection);
  }
  metrics_.ConnectionOpened();
  asio::co_spawn(connection->stream.get_executor(), Serve(connection),
                 asio::detached);
}

void Server::Impl::AcceptWaitingAndClose() {
  // A client that sent its whole request before the stop is owed an
  // answer (SPEC §5: those in flight are finished); one that only
  // connected gets a moment to show it did.
  boost::system::error_code ec;
  acceptor_.non_blocking(true, ec);
  for (size_t next = 0; !ec; next = (next + 1) % contexts_.size()) {
    tcp::socket socket(contexts_[next]->get_executor());
    acceptor_.accept(socket, ec);
    if (!ec) Begin(std::move(socket));  // read for a moment (Exchange)
  }
  acceptor_.close(ec);
}

awaitable<void> Server::Impl::Serve(std::shared_ptr<Connection> connection) {
  beast::flat_buffer buffer;
  connection->unparsed = &buffer;
  bool first = true;
  try {
    while (co_await Exchange(*connection, buffer, first)) first = false;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "segd: connection dropped: %s\n", e.what());
  }
  connection->unparsed = nullptr;
  // A lingering close: what the client still sends (a body refused with
  // 413) is read and dropped for a moment, so that the kernel does not
  // reset the connection before the client has read the answer.
  boost::system::error_code ignored;
  connection->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  connection->stream.expires_after(std::chrono::seconds(1));
  std::array<char, 4096> sink;
  for (size_t drained = 0; drained < (size_t{64} << 20);) {
    auto [ec, n] = co_await connection->stream.async_read_some(
        asio::buffer(sink), kNoThrow);
    if (ec) break;
    drained += n;
  }
  connection->stream.close();
  metrics_.ConnectionClosed();
  std::lock_guard lock(mu_);
  connections_.remove(connection);
  if (connections_.empty()) drained_.notify_all();
}

awaitable<ApiResponse> Server::Impl::Dispatch(const ApiRequest& request) {
  const RouteId id = request.route->id;
  if (AnswersInline(id)) co_return api_.Handle(request);
  if (Api::WritesBatch(id)) {
    // Prepared and answered here; the database applies and logs it with
    // the writes queued beside it, and no thread waits meanwhile.
    std::variant<ApiResponse, Api::Write> prepared = api_.PrepareWrite(request);
    if (ApiResponse* refused = std::get_if<ApiResponse>(&prepared)) {
      co_return std::move(*refused);
    }
    Api::Write& write = std::get<Api::Write>(prepared);
    std::vector<WriteOutcome> outcomes =
        co_await WriteAsync(std::move(write.batch));
    co_return api_.Answer(write, outcomes);
  }
  if (IsPoolWrite(id)) {
    co_return co_await asio::co_spawn(
        writes_.get_executor(),
        [this, &request]() -> awaitable<ApiResponse> {
          co_return api_.Handle(request);
        },
        use_awaitable);
  }
  co_return co_await asio::co_spawn(
      reads_.get_executor(),
      [this, &request]() -> awaitable<ApiResponse> { co_return Read(request); },
      use_awaitable);
}

awaitable<std::vector<WriteOutcome>> Server::Impl::WriteAsync(
    WriteBatch batch) {
  writes_in_flight_.fetch_add(1);
  co_return co_await asio::async_initiate<decltype(use_awaitable),
                                          void(std::vector<WriteOutcome>)>(
      [this, &batch](auto handler) {
        // The database calls back on a thread of its own; the coroutine
        // goes on on its connection's I/O thread.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        api_.WriteAsync(
            std::move(batch), [this, shared](std::vector<WriteOutcome> out) {
              const auto executor = asio::get_associated_executor(*shared);
              asio::post(executor, [shared, out = std::move(out)]() mutable {
                std::move (*shared)(std::move(out));
              });
              if (writes_in_flight_.fetch_sub(1) == 1) {
                std::lock_guard lock(mu_);
                drained_.notify_all();
              }
            });
      },
      use_awaitable);
}

ApiResponse Server::Impl::Read(const ApiRequest& request) {
  // A query spreads its shards over every core, which is what a lone
  // query wants. With another read in flight the cores are busy already:
  // each read then runs on its pool thread alone, and the reads share the
  // cores without handing shards back and forth.
  const bool alone = reads_in_flight_.fetch_add(1) > 0;
  ApiResponse response;
  if (alone) {
    thread_local tbb::task_arena one_thread(1);
    one_thread.execute([&] { response = api_.Handle(request); });
  } else {
    response = api_.Handle(request);
  }
  reads_in_flight_.fetch_sub(1);
  return response;
}

awaitable<bool> Server::Impl::Exchange(Connection& connection,
                                       beast::flat_buffer& buffer, bool first) {
  beast::tcp_stream& stream = connection.stream;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(options_.max_header));
  // The body's limit depends on the route, known once the header is read.
  parser.body_limit(boost::none);
  bool stopping;
  {
    std::lock_guard lock(mu_);
    stopping = stopping_;
  }
  stream.expires_after(stopping && !HasBytesWaiting(stream) ? kLastRequestWait
                       : first ? options_.read_timeout
                               : options_.idle_timeout);
  auto [read_error, header_bytes] =
      co_await http::async_read_header(stream, buffer, parser, kNoThrow);
  {
    std::lock_guard lock(mu_);
    connection.idle = false;
  }
  if (read_error) {
    // A header Beast cannot parse gets a 400 before the connection closes;
    // a client that left or went silent gets nothing.
    if (read_error == http::error::header_limit) {
      // 431 Request Header Fields Too Large (RFC 6585).
      ApiResponse response = ErrorResponse(
          Status(ErrorCode::kTooLarge, "the request header is over " +
                                           std::to_string(options_.max_header) +
                                           " bytes"));
      response.status = 431;
      co_await Send(connection, std::move(response), 11, false);
    } else if (IsParseError(read_error)) {
      co_await Send(
          connection,
          ErrorResponse(Malformed("not an HTTP/1.x request segd can read: " +
                                  read_error.message())),
          11, false);
    }
    co_return false;
  }
  const auto start = std::chrono::steady_clock::now();
  const http::request<http::string_body>& header = parser.get();
  const unsigned version = header.version();
  size_t route_index = Routes().size();  // unmatched, for the metrics
  auto answer = [&](ApiResponse response, bool keep_alive) -> awaitable<bool> {
    {
      std::lock_guard lock(mu_);
      if (stopping_) keep_alive = false;
    }
    const int status = response.status;
    const bool sent =
        co_await Send(connection, std::move(response), version, keep_alive);
    metrics_.Observe(
        route_index, status,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
    // Idle again only if it waits for another request: one that closes
    // drains what the client still sends, which a stop must not cut.
    std::lock_guard lock(mu_);
    const bool more = sent && keep_alive && !stopping_;
    connection.idle = more;
    co_return more;
  };

  // The key, the target and the route, before any of the body is read.
  // Without the key only /healthz is answered: not even whether a path
  // exists is told.
  const std::string_view raw_target(header.target().data(),
                                    header.target().size());
  if (!options_.api_key.empty() &&
      raw_target.substr(0, raw_target.find('?')) != "/healthz") {
    const auto it = header.find(http::field::authorization);
    const std::string_view given =
        it == header.end()
            ? std::string_view()
            : std::string_view(it->value().data(), it->value().size());
    // The scheme's name is case-insensitive (RFC 7235).
    if (given.size() < 7 || !EqualsFolded(given.substr(0, 7), "bearer ") ||
        !SameKey(given.substr(7), options_.api_key)) {
      ApiResponse response =
          ErrorResponse(Status(ErrorCode::kUnauthorized,
                               "this server needs Authorization: Bearer KEY"));
      response.headers.emplace_back("WWW-Authenticate", "Bearer");
      co_return co_await answer(std::move(response),
                                parser.is_done() && header.keep_alive());
    }
  }
  Result<Target> target = ParseTarget(raw_target);
  if (!target.ok())
    co_return co_await answer(ErrorResponse(target.status()), false);
  std::string allow;
  const std::string_view method(header.method_string().data(),
                                header.method_string().size());
  Result<Match> match = MatchRoute(method, target->segments, &allow);
  if (!match.ok()) {
    ApiResponse response = ErrorResponse(match.status());
    if (!allow.empty()) response.headers.emplace_back("Allow", allow);
    // A body not read leaves the connection unusable.
    co_return co_await answer(std::move(response),
                              parser.is_done() && header.keep_alive());
  }
  const Route& route = *match->route;
  route_index = static_cast<size_t>(&route - Routes().data());
  if (Status bad = CheckPathParams(route, match->params); !bad.ok()) {
    co_return co_await answer(ErrorResponse(bad),
                              parser.is_done() && header.keep_alive());
  }
  ApiRequest request;
  request.route = &route;
  request.params = std::move(match->params);
  request.target = std::move(*target);
  if (const auto it = header.find(http::field::content_type);
      it != header.end()) {
    request.content_type =
        MediaType(std::string_view(it->value().data(), it->value().size()));
  }
  const bool big =
      route.body == BodyKind::kBatch && (route.id == RouteId::kIngestProfiles ||
                                         route.id == RouteId::kIngestEvents ||
                                         request.content_type == "text/csv");
  const size_t limit = big ? options_.max_batch_body : kSmallBody;
  // Segments and their members take a larger body as CSV than as JSON.
  const std::string hint =
      route.body == BodyKind::kBatch && !big
          ? "; a list of ids this long goes as a text/csv body"
          : "";
  if (const auto length = parser.content_length(); length && *length > limit) {
    co_return co_await answer(
        ErrorResponse(Status(ErrorCode::kTooLarge,
                             "the body is " + std::to_string(*length) +
                                 " bytes; this path takes at most " +
                                 std::to_string(limit) + hint)),
        false);
  }
  if (!parser.is_done()) {
    parser.body_limit(limit);
    if (const auto it = header.find(http::field::expect);
        it != header.end() && beast::iequals(it->value(), "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, version};
      stream.expires_after(options_.write_timeout);
      auto [ec, n] = co_await http::async_write(stream, go_on, kNoThrow);
      if (ec) co_return false;
    }
    // Beast reads as much as the buffer has room for, and at least 512
    // bytes: into a buffer the size of a header, a batch would take a
    // read, an epoll_wait and a timer reset per 512 bytes. A larger body
    // gets room for 64 KiB a read, given back once it is read.
    constexpr size_t kBodyRead = size_t{64} << 10;
    const auto length = parser.content_length();
    if (!length || *length > kBodyRead / 16) buffer.reserve(kBodyRead);
    stream.expires_after(options_.read_timeout);
    auto [body_error, body_bytes] =
        co_await http::async_read(stream, buffer, parser, kNoThrow);
    if (buffer.capacity() > kBodyRead / 2) buffer.shrink_to_fit();
    if (body_error == http::error::body_limit) {
      co_return co_await answer(
          ErrorResponse(Status(ErrorCode::kTooLarge,
                               "the body is over " + std::to_string(limit) +
                                   " bytes, the most this path takes" + hint)),
          false);
    }
    if (IsParseError(body_error)) {
      co_return co_await answer(
          ErrorResponse(
              Malformed("a body segd cannot read: " + body_error.message())),
          false);
    }
    if (body_error) co_return false;
  }
  request.body = std::move(parser.get().body());
  stream.expires_never();
  ApiResponse response = co_await Dispatch(request);
  co_return co_await answer(std::move(response), parser.get().keep_alive());
}

awaitable<bool> Server::Impl::Send(Connection& connection, ApiResponse response,
                                   unsigned version, bool keep_alive) {
  beast::tcp_stream& stream = connection.stream;
  stream.expires_after(options_.write_timeout);
  if (!response.stream) {
    http::response<http::string_body> out{
        static_cast<http::status>(response.status), version};
    out.set(http::field::server, "segd");
    out.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) out.set(name, value);
    out.keep_alive(keep_alive);
    out.body() = std::move(response.body);
    out.prepare_payload();
    auto [ec, n] = co_await http::async_write(stream, out, kNoThrow);
    co_return !ec;
  }
  // Chunked: each chunk is made on the read pool, then written.
  http::response<http::empty_body> head{
      static_cast<http::status>(response.status), version};
  head.set(http::field::server, "segd");
  head.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) head.set(name, value);
  head.keep_alive(keep_alive);
  head.chunked(true);
  http::response_serializer<http::empty_body> serializer{head};
  if (auto [ec, n] =
          co_await http::async_write_header(stream, serializer, kNoThrow);
      ec) {
    co_return false;
  }
  std::string chunk;
  for (bool more = true; more;) {
    chunk.clear();
    more = co_await asio::co_spawn(
        reads_.get_executor(),
        [&]() -> awaitable<bool> { co_return response.stream(chunk); },
        use_awaitable);
    if (!chunk.empty()) {
      stream.expires_after(options_.write_timeout);
      auto [ec, n] = co_await asio::async_write(
          stream, http::make_chunk(asio::buffer(chunk)), kNoThrow);
      if (ec) co_return false;
    }
  }
  stream.expires_after(options_.write_timeout);
  auto [ec, n] =
      co_await asio::async_write(stream, http::make_chunk_last(), kNoThrow);
  co_return !ec;
}

Server::Server(Api& api, Metrics& metrics, ServerOptions options)
    : impl_(std::make_unique<Impl>(api, metrics, std::move(options))) {}

Server::~Server() { Stop(std::chrono::seconds(5)); }

Status Server::Start() { return impl_->Start(); }

uint16_t Server::port() const { return impl_->port(); }

void Server::Stop(std::chrono::milliseconds grace) { impl_->Stop(grace); }

}  // namespace segd
