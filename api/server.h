// Server: segd's HTTP/1.1 front (SPEC §5), on Boost.Beast and Asio.
//
// A few I/O threads run every connection as a coroutine: read a header,
// find the route, check the key and the body's size, read the body, answer,
// and wait for the next request on the same connection. Work that can take
// long (writes, which queue on the writer lock; queries; exports) runs on
// two small pools of its own, reads apart from writes, so that neither the
// I/O threads nor one kind of work holds up the other; point reads
// (a profile, contains, the segments of a profile) are answered on the I/O
// thread, where they cost least.
//
// Bounds: a header of at most 16 KiB; a body at most its route's limit,
// refused with 413 from its Content-Length before any of it is read; a
// request must arrive whole within `read_timeout`, and a connection idle
// for `idle_timeout` is closed.
//
// Threading: Start, Stop and Wait from one controlling thread.
#ifndef SEGD_API_SERVER_H_
#define SEGD_API_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "api/handlers.h"
#include "api/metrics.h"
#include "base/status.h"

namespace segd {

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see Server::port())
  int io_threads = 2;
  int read_threads = 2;  // queries, exports, reports
  // Schema and segment writes; profile writes hold no thread (they are
  // queued for the database's commit thread).
  int write_threads = 32;
  // Bearer key every request but /healthz must carry; "" for none.
  std::string api_key;
  size_t max_batch_body = kBatchBodyLimit;  // --max-body
  size_t max_header = 16 << 10;
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds write_timeout{60000};
};

class Server {
 public:
  Server(Api& api, Metrics& metrics, ServerOptions options);
  ~Server();  // stops, if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the threads. kIo when the address cannot be
  // bound.
  Status Start();
  // The port listened on, once started.
  uint16_t port() const;
  // Stops taking connections, lets requests in flight finish (for at most
  // `grace`), closes idle connections and joins the threads.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(30));

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace segd

#endif  // SEGD_API_SERVER_H_
