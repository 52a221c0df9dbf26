// SPDX-License-Identifier: BSD-3-Clause
#include "httpadapter.h"

#include "serverlogging.h"

#include <QtCore/QPointer>
#include <QtCore/QTimer>
#include <QtHttpServer/QAbstractHttpServer>
#include <QtHttpServer/QHttpServerRequest>
#include <QtHttpServer/QHttpServerResponder>
#include <QtNetwork/QTcpServer>
#include <QtNetwork/QTcpSocket>

#include <chrono>
#include <limits>

using namespace std::chrono_literals;

namespace Synq {
namespace Server {

namespace {

// Request line and headers together; QtHttpServer itself sets no bound.
constexpr qint64 MaxHeaderBytes = 64 * 1024;
// How long a refused connection is drained (so the client reads the 413 rather than a reset).
constexpr auto DrainTime = 10s;
// A refused body of unknown length is drained until the client pauses this long.
constexpr auto IdleBeforeClose = 300ms;
// How long a refused connection stays open after the whole request arrived.
constexpr auto LingerBeforeClose = 2s;

QByteArray methodName(QHttpServerRequest::Method method)
{
    switch (method) {
    case QHttpServerRequest::Method::Get:
        return QByteArrayLiteral("GET");
    case QHttpServerRequest::Method::Put:
        return QByteArrayLiteral("PUT");
    case QHttpServerRequest::Method::Delete:
        return QByteArrayLiteral("DELETE");
    case QHttpServerRequest::Method::Post:
        return QByteArrayLiteral("POST");
    case QHttpServerRequest::Method::Head:
        return QByteArrayLiteral("HEAD");
    case QHttpServerRequest::Method::Options:
        return QByteArrayLiteral("OPTIONS");
    case QHttpServerRequest::Method::Patch:
        return QByteArrayLiteral("PATCH");
    case QHttpServerRequest::Method::Connect:
        return QByteArrayLiteral("CONNECT");
    case QHttpServerRequest::Method::Trace:
        return QByteArrayLiteral("TRACE");
    default:
        return QByteArray();
    }
}

// Whether the client asked for the connection to end after this response.
bool wantsClose(const QHttpServerRequest &request)
{
    for (const auto &header : request.headers()) {
        if (header.first.compare("connection", Qt::CaseInsensitive) == 0)
            return header.second.trimmed().compare("close", Qt::CaseInsensitive) == 0;
    }
    return false;
}

/*
    Watches one connection's incoming bytes before QtHttpServer reads them (its readyRead
    slot is connected first). QtHttpServer 6.4 buffers a whole request, however large, before
    it hands it over; this refuses a request whose Content-Length exceeds the limit as soon as
    its headers are in, and a body without Content-Length (chunked) once it grows past it.

    QtHttpServer 6.4 reads everything available inside a QIODevice transaction until a request
    is complete and then commits, so a readyRead outside a transaction starts a new request,
    and inside one brings only bytes not seen before.
*/
class RequestGuard : public QObject
{
public:
    RequestGuard(QTcpSocket *socket, qint64 maxBodyBytes)
        : QObject(socket), m_socket(socket), m_maxBody(maxBodyBytes)
    {
        connect(socket, &QTcpSocket::readyRead, this, &RequestGuard::inspect);
    }

private:
    void inspect()
    {
        if (m_refused) {
            drain();
            return;
        }
        const qint64 available = m_socket->bytesAvailable();
        if (!m_socket->isTransactionStarted()) {
            m_head.clear();
            m_headComplete = false;
            m_chunkedBytes = -1;
            m_seen = 0;
        }
        m_seen += available;
        if (!m_headComplete) {
            m_head += m_socket->peek(qMin(available, MaxHeaderBytes + 4 - m_head.size()));
            const qsizetype end = m_head.indexOf("\r\n\r\n");
            if (end < 0) {
                if (m_head.size() > MaxHeaderBytes)
                    refuse(QStringLiteral("the request headers exceed 64 KiB"), -1);
                return;
            }
            m_headComplete = true;
            const qint64 length = contentLength(m_head.left(end));
            if (length > m_maxBody) {
                refuse(QStringLiteral("the request body of %1 bytes exceeds the limit of %2 bytes")
                               .arg(length)
                               .arg(m_maxBody),
                       end + 4 + length - m_seen);
                return;
            }
            // Without Content-Length a body can only come chunked: count what arrives.
            m_chunkedBytes = length < 0 ? m_seen - (end + 4) : -1;
            // QtHttpServer 6.4 never answers "Expect: 100-continue" (curl then waits a second
            // before it sends a body over 1 MiB).
            if (headerValue(m_head.left(end), "expect").compare("100-continue", Qt::CaseInsensitive)
                == 0)
                m_socket->write("HTTP/1.1 100 Continue\r\n\r\n");
            m_head.clear();
        } else if (m_chunkedBytes >= 0) {
            m_chunkedBytes += available;
        }
        if (m_chunkedBytes > m_maxBody + MaxHeaderBytes) // chunk framing included
            refuse(QStringLiteral("the request body exceeds the limit of %1 bytes").arg(m_maxBody),
                   -1);
    }

    static QList<QByteArray> headerValues(const QByteArray &head, const char *name)
    {
        QList<QByteArray> values;
        for (const QByteArray &line : head.split('\n')) {
            const qsizetype colon = line.indexOf(':');
            if (colon > 0 && line.left(colon).trimmed().compare(name, Qt::CaseInsensitive) == 0)
                values.append(line.mid(colon + 1).trimmed());
        }
        return values;
    }

    static QByteArray headerValue(const QByteArray &head, const char *name)
    {
        const QList<QByteArray> values = headerValues(head, name);
        return values.isEmpty() ? QByteArray() : values.constFirst();
    }

    // The largest Content-Length given; -1 without one.
    static qint64 contentLength(const QByteArray &head)
    {
        qint64 length = -1;
        for (const QByteArray &text : headerValues(head, "content-length")) {
            bool ok = false;
            const qint64 value = text.toLongLong(&ok);
            // A length too large for a number is as good as infinite.
            length = qMax(length, ok ? value : std::numeric_limits<qint64>::max() / 2);
        }
        return length;
    }

    // Answers 413 itself (QtHttpServer never sees this request complete), then discards what
    // the client still sends of it: remaining bytes of a known length, or until DrainTime.
    void refuse(const QString &message, qint64 remaining)
    {
        m_refused = true;
        m_remaining = remaining;
        qCInfo(lcServer, "refused a request from %s: %s",
               qPrintable(m_socket->peerAddress().toString()), qPrintable(message));
        QObject::disconnect(m_socket, &QTcpSocket::readyRead, nullptr, nullptr);
        connect(m_socket, &QTcpSocket::readyRead, this, &RequestGuard::drain);
        if (m_socket->isTransactionStarted())
            m_socket->commitTransaction();
        const HttpResponse response =
                HttpResponse::error(413, QStringLiteral("too-large"), message, true);
        QByteArray raw = "HTTP/1.1 413 Payload Too Large\r\n"
                         "Content-Type: application/json\r\n"
                         "Connection: close\r\n"
                         "Content-Length: ";
        raw += QByteArray::number(response.body.size()) + "\r\n\r\n" + response.body;
        m_socket->write(raw);
        QTimer::singleShot(DrainTime, m_socket, [socket = m_socket] { socket->abort(); });
        drain();
    }

    void drain()
    {
        const qint64 discarded = m_socket->skip(m_socket->bytesAvailable());
        if (m_closing)
            return;
        if (m_remaining < 0) {
            // Unknown length: close once the client pauses.
            if (!m_idle) {
                m_idle = new QTimer(this);
                m_idle->setSingleShot(true);
                m_idle->setInterval(IdleBeforeClose);
                connect(m_idle, &QTimer::timeout, this, [this] {
                    m_closing = true;
                    m_socket->disconnectFromHost();
                });
            }
            m_idle->start();
            return;
        }
        m_remaining -= qMax<qint64>(discarded, 0);
        if (m_remaining <= 0) {
            // The whole request is in. Closing now could race the client, which may not have
            // taken note of its own upload's end yet and would see a reset instead of the 413
            // (QNetworkAccessManager does): the client closes ("Connection: close"), or we do
            // after a moment.
            m_closing = true;
            QTimer::singleShot(LingerBeforeClose, m_socket,
                               [socket = m_socket] { socket->disconnectFromHost(); });
        }
    }

    QTcpSocket *m_socket;
    const qint64 m_maxBody;
    QByteArray m_head;
    bool m_headComplete = false;
    qint64 m_seen = 0; // bytes of the current request seen so far
    qint64 m_chunkedBytes = -1; // body bytes of a request without Content-Length
    bool m_refused = false;
    bool m_closing = false;
    qint64 m_remaining = -1; // bytes of the refused request still to come; -1: unknown
    QTimer *m_idle = nullptr;
};

class GuardedTcpServer : public QTcpServer
{
public:
    explicit GuardedTcpServer(qint64 maxBodyBytes) : m_maxBody(maxBodyBytes) { }

protected:
    void incomingConnection(qintptr descriptor) override
    {
        auto *socket = new QTcpSocket(this);
        if (!socket->setSocketDescriptor(descriptor)) {
            delete socket;
            return;
        }
        // Answers go out at once: with Nagle's algorithm the last part of a response waited
        // for the client's delayed acknowledgement (up to 40 ms on Linux) on every request
        // of a kept-alive connection.
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        new RequestGuard(socket, m_maxBody); // before QtHttpServer connects to readyRead
        addPendingConnection(socket);
    }

private:
    const qint64 m_maxBody;
};

class HttpServer : public QAbstractHttpServer
{
public:
    explicit HttpServer(HttpAdapter::Handler handler) : m_handler(std::move(handler)) { }

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override
    {
        HttpRequest r;
        r.method = methodName(request.method());
        r.path = request.url().path(QUrl::FullyDecoded);
        r.query = request.query();
        r.headers = request.headers();
        r.body = request.body();
        const HttpResponse response = m_handler(r);

        const bool close = wantsClose(request);
        QHttpServerResponder responder = makeResponder(request, socket);
        responder.writeStatusLine(QHttpServerResponder::StatusCode(response.status));
        responder.writeHeader(QByteArrayLiteral("Content-Type"),
                              QByteArrayLiteral("application/json"));
        for (const auto &header : response.headers)
            responder.writeHeader(header.first, header.second);
        if (close)
            responder.writeHeader(QByteArrayLiteral("Connection"), QByteArrayLiteral("close"));
        responder.writeHeader(QByteArrayLiteral("Content-Length"),
                              QByteArray::number(response.body.size()));
        responder.writeBody(r.method == "HEAD" ? QByteArray() : response.body);
        if (close) {
            QTimer::singleShot(0, socket, [socket = QPointer<QTcpSocket>(socket)] {
                if (socket)
                    socket->disconnectFromHost();
            });
        }
        return true;
    }

    void missingHandler(const QHttpServerRequest &, QTcpSocket *) override
    {
        // handleRequest() answers every request.
    }

private:
    HttpAdapter::Handler m_handler;
};

} // namespace

class HttpAdapter::Private
{
public:
    std::unique_ptr<HttpServer> server;
    QPointer<GuardedTcpServer> tcpServer;
    qint64 maxBody = 0;
};

HttpAdapter::HttpAdapter(Handler handler, qint64 maxBodyBytes) : d(std::make_unique<Private>())
{
    d->server = std::make_unique<HttpServer>(std::move(handler));
    d->maxBody = maxBodyBytes;
}

HttpAdapter::~HttpAdapter() = default;

bool HttpAdapter::listen(const QHostAddress &address, quint16 port, QString *error)
{
    auto tcpServer = std::make_unique<GuardedTcpServer>(d->maxBody);
    if (!tcpServer->listen(address, port)) {
        *error = tcpServer->errorString();
        return false;
    }
    d->tcpServer = tcpServer.get();
    d->server->bind(tcpServer.release()); // the HTTP server takes the TCP server over
    return true;
}

quint16 HttpAdapter::serverPort() const
{
    return d->tcpServer ? d->tcpServer->serverPort() : 0;
}

void HttpAdapter::close()
{
    if (d->tcpServer)
        d->tcpServer->close();
}

} // namespace Server
} // namespace Synq
