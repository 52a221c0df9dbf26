// SPDX-License-Identifier: BSD-3-Clause
#include "faultproxy.h"

#include <QtCore/QByteArrayList>
#include <QtCore/QPointer>
#include <QtCore/QTimer>
#include <QtNetwork/QHostAddress>
#include <QtNetwork/QTcpServer>
#include <QtNetwork/QTcpSocket>

#include <algorithm>
#include <utility>

namespace SynqTest {

namespace {

constexpr qsizetype MaxChunkLine = 1024;

// One header block (request or response): the start line and the fields as sent.
struct HttpHead
{
    struct Field
    {
        QByteArray name;
        QByteArray value; // trimmed
        QByteArray raw;   // the line as received, without CRLF
    };

    QByteArray startLine;
    QList<Field> fields;
    qsizetype size = 0; // bytes including the empty line

    bool has(const QByteArray &name) const
    {
        return std::any_of(fields.cbegin(), fields.cend(), [&name](const Field &f) {
            return f.name.compare(name, Qt::CaseInsensitive) == 0;
        });
    }

    QByteArrayList values(const QByteArray &name) const
    {
        QByteArrayList result;
        for (const Field &f : fields) {
            if (f.name.compare(name, Qt::CaseInsensitive) == 0)
                result.append(f.value);
        }
        return result;
    }

    // Comma-separated token lists (Connection, Transfer-Encoding, Expect), case-insensitive.
    bool hasToken(const QByteArray &name, const QByteArray &token) const
    {
        const QByteArrayList lists = values(name);
        for (const QByteArray &list : lists) {
            const QByteArrayList tokens = list.split(',');
            for (const QByteArray &t : tokens) {
                if (t.trimmed().compare(token, Qt::CaseInsensitive) == 0)
                    return true;
            }
        }
        return false;
    }
};

enum class Parse { NeedMore, Done, Invalid };

Parse parseHead(const QByteArray &buffer, HttpHead *head)
{
    const qsizetype end = buffer.indexOf("\r\n\r\n");
    if (end < 0)
        return buffer.size() > FaultProxy::MaxHeadSize ? Parse::Invalid : Parse::NeedMore;
    if (end + 4 > FaultProxy::MaxHeadSize)
        return Parse::Invalid;
    const QByteArrayList lines = buffer.left(end).split('\n');
    HttpHead result;
    for (qsizetype i = 0; i < lines.size(); ++i) {
        QByteArray line = lines.at(i);
        if (!line.endsWith('\r') && i + 1 < lines.size())
            return Parse::Invalid; // bare LF
        if (line.endsWith('\r'))
            line.chop(1);
        if (i == 0) {
            result.startLine = line;
            continue;
        }
        const qsizetype colon = line.indexOf(':');
        // No obsolete line folding, no whitespace before the colon (RFC 9112 5.1).
        if (colon <= 0 || line.startsWith(' ') || line.startsWith('\t')
            || line.at(colon - 1) == ' ' || line.at(colon - 1) == '\t')
            return Parse::Invalid;
        result.fields.append({ line.left(colon), line.mid(colon + 1).trimmed(), line });
    }
    if (result.startLine.isEmpty())
        return Parse::Invalid;
    result.size = end + 4;
    *head = std::move(result);
    return Parse::Done;
}

// Connection-level fields that belong to one hop (RFC 9110 7.6.1): the proxy sets its own
// Connection on either side, and drops what the sender's Connection names (Upgrade,
// HTTP2-Settings of an h2c offer), since it can relay neither a protocol switch nor keep-alive.
bool isHopByHop(const HttpHead &head, const QByteArray &name)
{
    return name.compare("Connection", Qt::CaseInsensitive) == 0
            || name.compare("Keep-Alive", Qt::CaseInsensitive) == 0
            || name.compare("Proxy-Connection", Qt::CaseInsensitive) == 0
            || head.hasToken("Connection", name);
}

// Returns -1 when absent, -2 when invalid or ambiguous.
qint64 contentLength(const HttpHead &head)
{
    const QByteArrayList values = head.values("Content-Length");
    if (values.isEmpty())
        return -1;
    qint64 length = -1;
    for (const QByteArray &value : values) {
        bool ok = false;
        const qint64 v = value.toLongLong(&ok);
        if (!ok || v < 0 || (length >= 0 && v != length))
            return -2;
        length = v;
    }
    return length;
}

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 400: return QByteArrayLiteral("Bad Request");
    case 413: return QByteArrayLiteral("Payload Too Large");
    case 429: return QByteArrayLiteral("Too Many Requests");
    case 500: return QByteArrayLiteral("Internal Server Error");
    case 501: return QByteArrayLiteral("Not Implemented");
    case 502: return QByteArrayLiteral("Bad Gateway");
    case 503: return QByteArrayLiteral("Service Unavailable");
    case 504: return QByteArrayLiteral("Gateway Timeout");
    default: return QByteArrayLiteral("Error");
    }
}

QByteArray errorCodeFor(int status)
{
    switch (status) {
    case 400: return QByteArrayLiteral("validation");
    case 413: return QByteArrayLiteral("too-large");
    case 429: return QByteArrayLiteral("rate-limited");
    case 503: return QByteArrayLiteral("unavailable");
    default: return QByteArrayLiteral("internal");
    }
}

QByteArray jsonString(const QByteArray &text)
{
    QByteArray out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\')
            out += '\\';
        if (static_cast<unsigned char>(c) < 0x20)
            continue;
        out += c;
    }
    return out + '"';
}

// A complete response with a protocol error body (docs/protocol.md, "Errors").
QByteArray errorResponse(int status, const QByteArray &message, bool close, int retryAfter = -1)
{
    const bool retryable = status == 413 || status == 429 || status >= 500;
    const QByteArray body = "{\"error\":{\"code\":\"" + errorCodeFor(status)
            + "\",\"message\":" + jsonString(message)
            + ",\"retryable\":" + (retryable ? "true" : "false") + "}}";
    QByteArray out = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status)
            + "\r\nContent-Type: application/json\r\nContent-Length: "
            + QByteArray::number(body.size()) + "\r\n";
    if (retryAfter >= 0)
        out += "Retry-After: " + QByteArray::number(retryAfter) + "\r\n";
    if (close)
        out += "Connection: close\r\n";
    return out + "\r\n" + body;
}

// Frames one upstream response as it arrives: by Content-Length, chunked transfer coding
// (kept as is, chunk by chunk) or the end of the connection. Interim 1xx responses are dropped.
class ResponseParser
{
public:
    explicit ResponseParser(bool headRequest = false) : m_headRequest(headRequest) { }

    void feed(const QByteArray &data)
    {
        if (m_state == State::Done || m_state == State::Error)
            return;
        m_buffer.append(data);
        if (m_buffer.size() > FaultProxy::MaxHeadSize + FaultProxy::MaxBodySize)
            return fail(QStringLiteral("response larger than the proxy's bound"));
        advance();
    }

    // The upstream closed its side: ends a close-delimited body, anything else is cut short.
    void finishOnClose()
    {
        if (m_state == State::UntilClose) {
            m_end = m_buffer.size();
            m_state = State::Done;
        } else if (m_state != State::Done && m_state != State::Error) {
            fail(QStringLiteral("upstream closed the connection after %1 bytes of an incomplete "
                                "response")
                         .arg(m_buffer.size()));
        }
    }

    bool isDone() const { return m_state == State::Done; }
    bool hasError() const { return m_state == State::Error; }
    QString errorString() const { return m_error; }
    int status() const { return m_status; }
    const HttpHead &head() const { return m_head; }
    bool isCloseDelimited() const { return m_closeDelimited; }
    bool isHttp10() const { return m_head.startLine.startsWith("HTTP/1.0"); }
    QByteArray body() const { return m_buffer.mid(m_head.size, m_end - m_head.size); }

private:
    enum class State { Head, Body, ChunkSize, ChunkData, Trailers, UntilClose, Done, Error };

    void fail(const QString &error)
    {
        m_state = State::Error;
        m_error = error;
    }

    void advance()
    {
        for (;;) {
            switch (m_state) {
            case State::Head: {
                HttpHead head;
                const Parse result = parseHead(m_buffer, &head);
                if (result == Parse::NeedMore)
                    return;
                if (result == Parse::Invalid)
                    return fail(QStringLiteral("malformed response head"));
                const QByteArrayList parts = head.startLine.split(' ');
                bool ok = false;
                const int status = parts.size() >= 2 ? parts.at(1).toInt(&ok) : 0;
                if (!parts.first().startsWith("HTTP/1.") || !ok || status < 100 || status > 999)
                    return fail(QStringLiteral("malformed status line"));
                if (status >= 100 && status < 200 && status != 101) {
                    m_buffer.remove(0, head.size);
                    continue;
                }
                m_head = std::move(head);
                m_status = status;
                m_pos = m_head.size;
                const qint64 length = contentLength(m_head);
                if (m_headRequest || status == 204 || status == 304 || status < 200) {
                    m_end = m_head.size;
                    m_state = State::Done;
                } else if (m_head.has("Transfer-Encoding")) {
                    if (!m_head.hasToken("Transfer-Encoding", "chunked"))
                        return fail(QStringLiteral("unsupported transfer coding"));
                    m_state = State::ChunkSize;
                } else if (length == -2) {
                    return fail(QStringLiteral("invalid Content-Length"));
                } else if (length >= 0) {
                    if (length > FaultProxy::MaxBodySize)
                        return fail(QStringLiteral("response body larger than the proxy's bound"));
                    m_remaining = length;
                    m_state = State::Body;
                } else {
                    m_closeDelimited = true;
                    m_state = State::UntilClose;
                }
                continue;
            }
            case State::Body:
                if (m_buffer.size() - m_head.size < m_remaining)
                    return;
                m_end = m_head.size + m_remaining;
                m_state = State::Done;
                return;
            case State::ChunkSize: {
                const qsizetype lineEnd = m_buffer.indexOf("\r\n", m_pos);
                if (lineEnd < 0) {
                    if (m_buffer.size() - m_pos > MaxChunkLine)
                        return fail(QStringLiteral("chunk size line too long"));
                    return;
                }
                QByteArray line = m_buffer.mid(m_pos, lineEnd - m_pos);
                const qsizetype semicolon = line.indexOf(';');
                if (semicolon >= 0)
                    line.truncate(semicolon);
                bool ok = false;
                const qint64 size = line.trimmed().toLongLong(&ok, 16);
                if (!ok || size < 0 || size > FaultProxy::MaxBodySize)
                    return fail(QStringLiteral("malformed chunk size"));
                m_pos = lineEnd + 2;
                m_remaining = size;
                m_state = size == 0 ? State::Trailers : State::ChunkData;
                continue;
            }
            case State::ChunkData:
                if (m_buffer.size() - m_pos < m_remaining + 2)
                    return;
                if (m_buffer.mid(m_pos + m_remaining, 2) != "\r\n")
                    return fail(QStringLiteral("chunk not followed by CRLF"));
                m_pos += m_remaining + 2;
                m_state = State::ChunkSize;
                continue;
            case State::Trailers: {
                const qsizetype lineEnd = m_buffer.indexOf("\r\n", m_pos);
                if (lineEnd < 0) {
                    if (m_buffer.size() - m_pos > FaultProxy::MaxHeadSize)
                        return fail(QStringLiteral("trailer too long"));
                    return;
                }
                if (lineEnd == m_pos) {
                    m_end = lineEnd + 2;
                    m_state = State::Done;
                    return;
                }
                m_pos = lineEnd + 2;
                continue;
            }
            case State::UntilClose:
            case State::Done:
            case State::Error:
                return;
            }
        }
    }

    State m_state = State::Head;
    bool m_headRequest = false;
    bool m_closeDelimited = false;
    QByteArray m_buffer;
    HttpHead m_head;
    int m_status = 0;
    qsizetype m_pos = 0;
    qsizetype m_end = 0;
    qint64 m_remaining = 0;
    QString m_error;
};

} // namespace

// One accepted client connection; it handles one request at a time (later, pipelined
// requests wait in the buffer).
class FaultProxyConnection : public QObject
{
public:
    using QObject::QObject;

    QTcpSocket *socket = nullptr;
    QByteArray in;
    FaultProxyExchange *exchange = nullptr;
    bool closing = false;  // no further requests; waiting for the socket to flush and close
    bool gone = false;     // the client socket is closed
    bool released = false;
    bool sentContinue = false;
};

// One client request on its way to the upstream and back.
class FaultProxyExchange : public QObject
{
public:
    using QObject::QObject;

    FaultProxyConnection *connection = nullptr;
    QByteArray method;
    QByteArray path;
    QByteArray upstreamRequest;
    bool clientClose = false;
    FaultProxy::Fault fault = FaultProxy::NoFault;
    int sends = 0;
    QTcpSocket *upstream = nullptr;
    QTimer *timeout = nullptr;
    ResponseParser parser;
};

/*!
    \class SynqTest::FaultProxy
    \brief An HTTP/1.1 loopback proxy that injects network and server faults, for tests.

    The proxy listens on 127.0.0.1 (port 0, see port() and url()) and forwards each request it
    receives to target(), unchanged except for the hop-by-hop fields (\c Connection,
    \c Keep-Alive and those \c Connection names, such as an h2c \c Upgrade offer): every
    upstream request goes out on a new connection with \c{Connection: close}, while the client
    side stays keep-alive (QNetworkAccessManager reuses its connections). Responses are relayed
    unchanged (a chunked body stays chunked, byte for byte) except that the upstream's
    \c Connection field is replaced by the proxy's own (\c{Connection: close} when the proxy
    closes the client connection after the response: the client asked for it, the response
    was close-delimited or HTTP/1.0).

    A request whose path matches pathFilter() may get a fault. failNext() queues one-shot
    faults, used first in order; otherwise setFaultProbability() draws one fault per request
    from a QRandomGenerator seeded by setSeed() (default seed 1), so a run is repeatable as
    long as the requests arrive in the same order. Requests outside the filter never get a
    fault, consume no one-shot and draw no number.

    \list
    \li \c DropResponse: the request is forwarded and the upstream's whole response read, then
        the client connection is aborted without a byte of reply.
    \li \c Delay: the response is held for delay() ms (a precise timer) once it has arrived.
    \li \c Reset: the client connection is aborted before anything is forwarded.
    \li \c ServerError: serverErrorStatus() (500 by default, or 503) with a JSON error body
        (\c internal, or \c unavailable for 503; \c{"message":"injected"},
        \c{"retryable":true}); nothing is forwarded.
    \li \c RateLimit: 429 with \c{Retry-After: retryAfter()} and a \c rate-limited JSON error
        body; nothing is forwarded.
    \li \c Duplicate: the request is sent to the upstream twice, one after the other; the
        client gets the second response.
    \li \c TruncateResponse: the request is forwarded and the client gets the first half of
        the response (half its body, or half its head when it has none), then the end of the
        connection.
    \endlist

    What QNetworkAccessManager (Qt 6.4) makes of the connection-level faults matters to the
    tests that use them:
    \list
    \li It resends a request, POST included, whose connection ends before any byte of the
        reply (\c Reset, \c DropResponse, a \c TruncateResponse of a body-less reply): one
        queued \c DropResponse means the server applies the request twice and the client
        succeeds. Queue several (failNext(DropResponse, 10)) to make the client fail, and
        count how many were used with pendingFaults() or faultsInjected().
    \li It does not resend once it has read part of a reply: a \c TruncateResponse of a
        Content-Length body is one request the server applied and the client saw fail,
        provided Qt reads the cut bytes and the connection end together. The proxy writes them
        back to back, which makes that near-certain on loopback; but Qt 6.4 hands a body cut by
        a connection end it reads separately to the client as if complete, and may take a cut
        chunked body as complete too.
    \li It may resend a GET whose close-delimited reply arrived together with the connection
        end, after finishing the first reply (the upstream counts two).
    \endlist

    A fault is counted (faultsInjected()) and faultInjected() emitted when it takes effect:
    for \c DropResponse and \c TruncateResponse after the upstream answered, for \c Delay
    when the hold starts, for \c Duplicate when the second copy is about to be sent. If the
    upstream cannot be reached, times out (upstreamTimeout()) or sends a malformed response,
    the client gets \c 502 with a JSON error body, upstreamFailed() is emitted, and a pending
    \c DropResponse, \c Delay, \c Duplicate or \c TruncateResponse of that request is not
    counted.

    Requests must carry their body by Content-Length (chunked requests get 501 and a closed
    connection); heads are bounded by MaxHeadSize, bodies by MaxBodySize, client connections
    by MaxConnections. Everything runs on the thread that owns the proxy; the destructor
    aborts every socket.
*/

/*! Creates a proxy for \a target (an \c http URL; only host and port are used). Call listen(). */
FaultProxy::FaultProxy(const QUrl &target, QObject *parent)
    : QObject(parent), m_server(new QTcpServer(this)), m_target(target), m_random(1u)
{
    connect(m_server, &QTcpServer::newConnection, this, &FaultProxy::acceptConnections);
}

FaultProxy::~FaultProxy()
{
    m_server->close();
    const QList<FaultProxyConnection *> connections = m_connections;
    m_connections.clear();
    for (FaultProxyConnection *connection : connections) {
        if (FaultProxyExchange *exchange = connection->exchange) {
            if (exchange->upstream) {
                QObject::disconnect(exchange->upstream, nullptr, this, nullptr);
                exchange->upstream->abort();
            }
            delete exchange;
        }
        QObject::disconnect(connection->socket, nullptr, this, nullptr);
        connection->socket->abort();
        delete connection;
    }
}

/*!
    Listens on 127.0.0.1 with a port the system chooses. Returns \c false on failure (see
    errorString()).
*/
bool FaultProxy::listen()
{
    if (m_server->isListening())
        return true;
    return m_server->listen(QHostAddress::LocalHost, 0);
}

bool FaultProxy::isListening() const
{
    return m_server->isListening();
}

QString FaultProxy::errorString() const
{
    return m_server->errorString();
}

quint16 FaultProxy::port() const
{
    return m_server->serverPort();
}

/*! \c{http://127.0.0.1:<port>}: the base URL clients use instead of the target's. */
QUrl FaultProxy::url() const
{
    QUrl url;
    url.setScheme(QStringLiteral("http"));
    url.setHost(QStringLiteral("127.0.0.1"));
    url.setPort(port());
    return url;
}

QUrl FaultProxy::target() const
{
    return m_target;
}

/*! Sets the upstream for requests that arrive from now on (a restarted server's new port). */
void FaultProxy::setTarget(const QUrl &target)
{
    m_target = target;
}

/*!
    Sets the probability, 0 to 1, that a matching request gets \a fault. The probabilities of
    all faults are laid end to end on one draw per request, so their sum should not exceed 1
    (what lies beyond 1 is never chosen).
*/
void FaultProxy::setFaultProbability(Fault fault, double probability)
{
    if (fault == NoFault)
        return;
    m_probabilities.insert(fault, std::clamp(probability, 0.0, 1.0));
}

double FaultProxy::faultProbability(Fault fault) const
{
    return m_probabilities.value(fault, 0.0);
}

/*! Gives the next \a count matching requests \a fault, after the one-shots already queued. */
void FaultProxy::failNext(Fault fault, int count)
{
    for (int i = 0; i < count; ++i)
        m_oneShots.append(fault);
}

/*! The one-shot faults not used yet. */
int FaultProxy::pendingFaults() const
{
    return int(m_oneShots.size());
}

/*! Drops the queued one-shots and sets every probability to 0. */
void FaultProxy::clearFaults()
{
    m_oneShots.clear();
    m_probabilities.clear();
}

/*!
    Faults apply only to requests whose path (the request target without its query) starts
    with \a pathPrefix; empty (the default) matches every request.
*/
void FaultProxy::setPathFilter(const QString &pathPrefix)
{
    m_pathFilter = pathPrefix;
}

QString FaultProxy::pathFilter() const
{
    return m_pathFilter;
}

/*! How long a \c Delay fault holds a response; 1000 ms by default. */
void FaultProxy::setDelay(int ms)
{
    m_delayMs = std::max(0, ms);
}

int FaultProxy::delay() const
{
    return m_delayMs;
}

/*! The \c Retry-After value, in seconds, of a \c RateLimit reply; 1 by default. */
void FaultProxy::setRetryAfter(int seconds)
{
    m_retryAfterSeconds = std::max(0, seconds);
}

int FaultProxy::retryAfter() const
{
    return m_retryAfterSeconds;
}

/*! The status of a \c ServerError reply: 500 (the default) or another 5xx such as 503. */
void FaultProxy::setServerErrorStatus(int status)
{
    if (status >= 500 && status <= 599)
        m_serverErrorStatus = status;
}

int FaultProxy::serverErrorStatus() const
{
    return m_serverErrorStatus;
}

/*! How long one upstream exchange (connect, send, whole response) may take; 30 s by default. */
void FaultProxy::setUpstreamTimeout(int ms)
{
    m_upstreamTimeoutMs = std::max(1, ms);
}

int FaultProxy::upstreamTimeout() const
{
    return m_upstreamTimeoutMs;
}

/*! Restarts the probabilistic draws from \a seed. */
void FaultProxy::setSeed(quint32 seed)
{
    m_random.seed(seed);
}

int FaultProxy::connectionsAccepted() const
{
    return m_connectionsAccepted;
}

/*! Complete requests read from clients. */
int FaultProxy::requestsSeen() const
{
    return m_requestsSeen;
}

/*! Requests written to the upstream (a \c Duplicate counts twice). */
int FaultProxy::requestsForwarded() const
{
    return m_requestsForwarded;
}

/*! Responses written to clients, relayed or injected (including 502 for upstream failures). */
int FaultProxy::responsesDelivered() const
{
    return m_responsesDelivered;
}

int FaultProxy::upstreamErrors() const
{
    return m_upstreamErrors;
}

int FaultProxy::faultsInjected(Fault fault) const
{
    return m_faultCounts.value(fault, 0);
}

int FaultProxy::totalFaultsInjected() const
{
    int total = 0;
    for (int count : m_faultCounts)
        total += count;
    return total;
}

/*! Sets every counter to 0 (faults, probabilities and the random sequence stay). */
void FaultProxy::resetCounters()
{
    m_connectionsAccepted = 0;
    m_requestsSeen = 0;
    m_requestsForwarded = 0;
    m_responsesDelivered = 0;
    m_upstreamErrors = 0;
    m_faultCounts.clear();
}

void FaultProxy::acceptConnections()
{
    while (m_server->hasPendingConnections()) {
        QTcpSocket *socket = m_server->nextPendingConnection();
        if (m_connections.size() >= MaxConnections) {
            qWarning("FaultProxy: more than %d client connections, refusing one", MaxConnections);
            socket->abort();
            socket->deleteLater();
            continue;
        }
        ++m_connectionsAccepted;
        auto *connection = new FaultProxyConnection(this);
        socket->setParent(connection);
        connection->socket = socket;
        m_connections.append(connection);
        const auto readClient = [this, connection] {
            if (connection->gone || connection->closing)
                return;
            connection->in.append(connection->socket->readAll());
            if (connection->in.size() > MaxHeadSize + MaxBodySize) {
                qWarning("FaultProxy: client sent more than the proxy buffers, closing it");
                closeClient(connection, true);
                return;
            }
            processClient(connection);
        };
        connect(socket, &QTcpSocket::readyRead, this, readClient);
        connect(socket, &QTcpSocket::disconnected, this,
                [this, connection] { clientDisconnected(connection); });
        if (socket->bytesAvailable() > 0)
            readClient();
    }
}

// Reads the client's next complete request, if any, and starts it.
void FaultProxy::processClient(FaultProxyConnection *connection)
{
    while (!connection->gone && !connection->closing && !connection->exchange) {
        HttpHead head;
        const Parse parsed = parseHead(connection->in, &head);
        if (parsed == Parse::NeedMore)
            return;
        const QByteArrayList requestLine = head.startLine.split(' ');
        if (parsed == Parse::Invalid || requestLine.size() != 3
            || !requestLine.at(2).startsWith("HTTP/1.")) {
            qWarning("FaultProxy: malformed request head, answering 400");
            connection->socket->write(errorResponse(400, "proxy: malformed request", true));
            closeClient(connection, false);
            return;
        }
        if (head.has("Transfer-Encoding")) {
            connection->socket->write(
                    errorResponse(501, "proxy: request transfer codings are not supported", true));
            closeClient(connection, false);
            return;
        }
        const qint64 length = std::max<qint64>(0, contentLength(head));
        if (contentLength(head) == -2 || length > MaxBodySize) {
            const int status = length > MaxBodySize ? 413 : 400;
            connection->socket->write(
                    errorResponse(status, "proxy: bad or too large Content-Length", true));
            closeClient(connection, false);
            return;
        }
        if (connection->in.size() < head.size + length) {
            if (!connection->sentContinue && head.hasToken("Expect", "100-continue")) {
                // The body is forwarded only once complete, so the proxy answers the
                // expectation itself; the upstream's own interim response is dropped.
                connection->socket->write("HTTP/1.1 100 Continue\r\n\r\n");
                connection->sentContinue = true;
            }
            return;
        }
        connection->sentContinue = false;

        const QByteArray method = requestLine.at(0);
        const QByteArray path = requestLine.at(1);
        const QByteArray version = requestLine.at(2);
        const bool clientClose = head.hasToken("Connection", "close")
                || (version == "HTTP/1.0" && !head.hasToken("Connection", "keep-alive"));
        QByteArray upstreamRequest = head.startLine + "\r\n";
        for (const HttpHead::Field &field : std::as_const(head.fields)) {
            if (!isHopByHop(head, field.name))
                upstreamRequest += field.raw + "\r\n";
        }
        upstreamRequest += "Connection: close\r\n\r\n";
        upstreamRequest += connection->in.mid(head.size, length);
        connection->in.remove(0, head.size + length);

        ++m_requestsSeen;
        const QPointer<FaultProxyConnection> guard(connection);
        Q_EMIT requestReceived(method, path);
        if (!guard || connection->gone)
            return;

        const Fault fault = chooseFault(path);
        switch (fault) {
        case Reset:
            countFault(Reset, method, path);
            closeClient(connection, true);
            return;
        case ServerError:
        case RateLimit: {
            countFault(fault, method, path);
            const bool rateLimit = fault == RateLimit;
            const int status = rateLimit ? 429 : m_serverErrorStatus;
            reply(connection, method, path,
                  errorResponse(status, "injected", clientClose,
                                rateLimit ? m_retryAfterSeconds : -1),
                  status, clientClose);
            continue;
        }
        case NoFault:
        case DropResponse:
        case Delay:
        case Duplicate:
        case TruncateResponse:
            break;
        }

        auto *exchange = new FaultProxyExchange(this);
        exchange->connection = connection;
        exchange->method = method;
        exchange->path = path;
        exchange->upstreamRequest = upstreamRequest;
        exchange->clientClose = clientClose;
        exchange->fault = fault;
        exchange->timeout = new QTimer(exchange);
        exchange->timeout->setSingleShot(true);
        connect(exchange->timeout, &QTimer::timeout, this, [this, exchange] {
            upstreamFailure(exchange, QStringLiteral("upstream timed out"));
        });
        connection->exchange = exchange;
        forward(exchange);
        return;
    }
}

void FaultProxy::forward(FaultProxyExchange *exchange)
{
    ++exchange->sends;
    exchange->parser = ResponseParser(exchange->method == "HEAD");
    auto *socket = new QTcpSocket(exchange);
    exchange->upstream = socket;

    connect(socket, &QTcpSocket::connected, this, [this, exchange, socket] {
        socket->write(exchange->upstreamRequest);
        ++m_requestsForwarded;
        Q_EMIT requestForwarded(exchange->method, exchange->path);
    });
    const auto consume = [this, exchange, socket](bool closed) {
        exchange->parser.feed(socket->readAll());
        if (closed)
            exchange->parser.finishOnClose();
        if (exchange->parser.hasError())
            upstreamFailure(exchange, exchange->parser.errorString());
        else if (exchange->parser.isDone())
            upstreamFinished(exchange);
    };
    connect(socket, &QTcpSocket::readyRead, this, [consume] { consume(false); });
    connect(socket, &QTcpSocket::disconnected, this, [consume] { consume(true); });
    connect(socket, &QAbstractSocket::errorOccurred, this,
            [this, exchange, socket](QAbstractSocket::SocketError error) {
                // The end of a connected socket arrives as disconnected(), with its last data.
                if (error != QAbstractSocket::RemoteHostClosedError)
                    upstreamFailure(exchange, socket->errorString());
            });

    exchange->timeout->start(m_upstreamTimeoutMs);
    socket->connectToHost(m_target.host(), quint16(m_target.port(80)));
}

static void disposeUpstream(FaultProxy *proxy, FaultProxyExchange *exchange)
{
    exchange->timeout->stop();
    if (QTcpSocket *socket = std::exchange(exchange->upstream, nullptr)) {
        QObject::disconnect(socket, nullptr, proxy, nullptr);
        socket->abort();
        socket->deleteLater();
    }
}

void FaultProxy::upstreamFinished(FaultProxyExchange *exchange)
{
    disposeUpstream(this, exchange);
    FaultProxyConnection *connection = exchange->connection;
    switch (exchange->fault) {
    case Duplicate:
        if (exchange->sends == 1) {
            countFault(Duplicate, exchange->method, exchange->path);
            forward(exchange);
            return;
        }
        break;
    case DropResponse:
        countFault(DropResponse, exchange->method, exchange->path);
        closeClient(connection, true);
        finishExchange(exchange);
        return;
    case Delay:
        countFault(Delay, exchange->method, exchange->path);
        QTimer::singleShot(m_delayMs, Qt::PreciseTimer, exchange,
                           [this, exchange] { deliver(exchange); });
        return;
    default:
        break;
    }
    deliver(exchange);
}

void FaultProxy::upstreamFailure(FaultProxyExchange *exchange, const QString &reason)
{
    disposeUpstream(this, exchange);
    ++m_upstreamErrors;
    Q_EMIT upstreamFailed(exchange->method, exchange->path, reason);
    FaultProxyConnection *connection = exchange->connection;
    if (!connection->gone && !connection->closing) {
        reply(connection, exchange->method, exchange->path,
              errorResponse(502, "proxy: " + reason.toUtf8(), exchange->clientClose), 502,
              exchange->clientClose);
    }
    finishExchange(exchange);
}

void FaultProxy::deliver(FaultProxyExchange *exchange)
{
    FaultProxyConnection *connection = exchange->connection;
    if (!connection->gone && !connection->closing) {
        const ResponseParser &response = exchange->parser;
        const bool close =
                exchange->clientClose || response.isCloseDelimited() || response.isHttp10();
        QByteArray out = response.head().startLine + "\r\n";
        for (const HttpHead::Field &field : response.head().fields) {
            if (!isHopByHop(response.head(), field.name))
                out += field.raw + "\r\n";
        }
        if (close)
            out += "Connection: close\r\n";
        out += "\r\n";
        const qsizetype headSize = out.size();
        out += response.body();
        if (exchange->fault == TruncateResponse) {
            // Half the body (half the head when there is no body), then the end of the
            // connection: the client has started reading a reply, so it cannot resend.
            const qsizetype cut = out.size() > headSize ? headSize + (out.size() - headSize) / 2
                                                        : headSize / 2;
            countFault(TruncateResponse, exchange->method, exchange->path);
            connection->socket->write(out.left(cut));
            // Bytes and connection end back to back, so the client reads them together (see
            // the class documentation for why that matters to QNetworkAccessManager).
            connection->socket->flush();
            closeClient(connection, false);
        } else {
            reply(connection, exchange->method, exchange->path, out, response.status(), close);
        }
    }
    finishExchange(exchange);
}

void FaultProxy::finishExchange(FaultProxyExchange *exchange)
{
    disposeUpstream(this, exchange);
    FaultProxyConnection *connection = exchange->connection;
    connection->exchange = nullptr;
    exchange->deleteLater();
    if (connection->gone)
        releaseConnection(connection);
    else
        processClient(connection);
}

void FaultProxy::reply(FaultProxyConnection *connection, const QByteArray &method,
                       const QByteArray &path, const QByteArray &response, int status, bool close)
{
    connection->socket->write(response);
    ++m_responsesDelivered;
    Q_EMIT responseDelivered(method, path, status);
    if (close)
        closeClient(connection, false);
}

// abort: drop the connection now (RST if unread data). Otherwise flush what was written, then
// close; the connection is released on disconnected().
void FaultProxy::closeClient(FaultProxyConnection *connection, bool abort)
{
    if (connection->gone)
        return;
    connection->in.clear();
    if (abort) {
        QObject::disconnect(connection->socket, nullptr, this, nullptr);
        connection->socket->abort();
        clientDisconnected(connection);
        return;
    }
    if (connection->closing)
        return;
    connection->closing = true;
    connection->socket->disconnectFromHost();
}

void FaultProxy::clientDisconnected(FaultProxyConnection *connection)
{
    if (connection->gone)
        return;
    connection->gone = true;
    connection->in.clear();
    // A request already on its way upstream completes there (the server applies it); its
    // response is discarded when it arrives.
    if (!connection->exchange)
        releaseConnection(connection);
}

void FaultProxy::releaseConnection(FaultProxyConnection *connection)
{
    if (connection->released)
        return;
    connection->released = true;
    m_connections.removeOne(connection);
    QObject::disconnect(connection->socket, nullptr, this, nullptr);
    if (connection->socket->state() != QAbstractSocket::UnconnectedState)
        connection->socket->abort();
    connection->deleteLater();
}

FaultProxy::Fault FaultProxy::chooseFault(const QByteArray &target)
{
    if (!m_pathFilter.isEmpty()) {
        const qsizetype query = target.indexOf('?');
        const QByteArray path = query < 0 ? target : target.left(query);
        if (!path.startsWith(m_pathFilter.toUtf8()))
            return NoFault;
    }
    if (!m_oneShots.isEmpty())
        return m_oneShots.takeFirst();
    double total = 0;
    for (double p : std::as_const(m_probabilities))
        total += p;
    if (total <= 0)
        return NoFault;
    const double draw = m_random.generateDouble();
    double upTo = 0;
    for (Fault fault :
         { DropResponse, Delay, Reset, ServerError, RateLimit, Duplicate, TruncateResponse }) {
        upTo += m_probabilities.value(fault, 0.0);
        if (draw < upTo)
            return fault;
    }
    return NoFault;
}

void FaultProxy::countFault(Fault fault, const QByteArray &method, const QByteArray &path)
{
    ++m_faultCounts[fault];
    Q_EMIT faultInjected(fault, method, path);
}

} // namespace SynqTest
