// SPDX-License-Identifier: BSD-3-Clause
#include <synq/httptransport.h>

#include <synq/logging_p.h>
#include <synq/pushrules.h>

#include <QtCore/QDateTime>
#include <QtCore/QPointer>
#include <QtCore/QThread>
#include <QtCore/QUrlQuery>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>

namespace Synq {

namespace {

// Adds an opaque value (a cursor, a key) with every reserved character percent-encoded ('+',
// '%', '&' ...): QUrlQuery leaves '+' and existing %XX sequences as they are, which a server
// would decode into another value.
void addOpaqueItem(QUrlQuery *query, const QString &name, const QString &value)
{
    query->addQueryItem(name, QString::fromLatin1(QUrl::toPercentEncoding(value)));
}

// Decodes pages of changes on the transport's worker thread: large pages never cost the GUI
// thread their JSON parsing.
class PullDecoder : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;

public Q_SLOTS:
    void decode(quint64 serial, const QByteArray &body, const Synq::Protocol::PullRequest &request)
    {
        Protocol::PullResponse response;
        SyncError error;
        if (!Protocol::decodePullResponse(body, request, &response, &error))
            response = Protocol::PullResponse();
        Q_EMIT decoded(serial, response, error);
    }

Q_SIGNALS:
    void decoded(quint64 serial, const Synq::Protocol::PullResponse &response,
                 const Synq::SyncError &error);
};

} // namespace

class HttpTransportPrivate
{
public:
    explicit HttpTransportPrivate(HttpTransport *q) : q(q) { }

    QNetworkAccessManager *manager();
    QNetworkRequest request(const QString &path, const QUrlQuery &query = QUrlQuery()) const;
    // Calls done(body, error) once the reply finished: error set for anything but a 2xx.
    void finish(QNetworkReply *reply, std::function<void(const QByteArray &, const SyncError &)> done);
    PullDecoder *decoder();

    HttpTransport *q;
    QUrl url;
    QString token;
    int timeoutMs = 30000;
    QVariantMap headers;
    QNetworkAccessManager *nam = nullptr;
    QThread *decoderThread = nullptr;
    PullDecoder *pullDecoder = nullptr;
    quint64 nextSerial = 0;
    QHash<quint64, SyncTransport::PullCallback> pendingPulls;
};

/*!
    \class Synq::HttpTransport
    \inmodule Synq
    \brief Talks the Synq sync protocol (docs/protocol.md) to a server over HTTP.

    One long-lived QNetworkAccessManager carries every request. authToken goes out as
    \c{Authorization: Bearer}; it never appears in logs. Each request times out after timeoutMs.
    A status other than 2xx becomes a SyncError with the HTTP status, retriability as the
    protocol defines it and, for 429 and 503, the server's Retry-After; a 401 also emits
    authenticationRequired(). Responses are decoded strictly; pages of changes are decoded on
    a worker thread.
*/

HttpTransport::HttpTransport(QObject *parent) : SyncTransport(parent), d(new HttpTransportPrivate(this))
{
    qRegisterMetaType<Synq::Protocol::PullRequest>();
    qRegisterMetaType<Synq::Protocol::PullResponse>();
    // The next batch travels while the server works on the previous one.
    setMaxPushesInFlight(2);
}

HttpTransport::~HttpTransport()
{
    if (d->decoderThread) {
        d->decoderThread->quit();
        d->decoderThread->wait();
        delete d->pullDecoder;
    }
}

QUrl HttpTransport::url() const { return d->url; }

void HttpTransport::setUrl(const QUrl &url)
{
    if (d->url == url)
        return;
    d->url = url;
    Q_EMIT urlChanged();
}

QString HttpTransport::authToken() const { return d->token; }

void HttpTransport::setAuthToken(const QString &token)
{
    if (d->token == token)
        return;
    d->token = token;
    Q_EMIT authTokenChanged();
}

int HttpTransport::timeoutMs() const { return d->timeoutMs; }

void HttpTransport::setTimeoutMs(int ms)
{
    ms = qMax(1, ms);
    if (d->timeoutMs == ms)
        return;
    d->timeoutMs = ms;
    Q_EMIT timeoutMsChanged();
}

QVariantMap HttpTransport::headers() const { return d->headers; }

void HttpTransport::setHeaders(const QVariantMap &headers)
{
    if (d->headers == headers)
        return;
    d->headers = headers;
    Q_EMIT headersChanged();
}

QNetworkAccessManager *HttpTransportPrivate::manager()
{
    if (!nam)
        nam = new QNetworkAccessManager(q);
    return nam;
}

PullDecoder *HttpTransportPrivate::decoder()
{
    if (!pullDecoder) {
        decoderThread = new QThread(q);
        decoderThread->setObjectName(QStringLiteral("synq-decoder"));
        pullDecoder = new PullDecoder;
        pullDecoder->moveToThread(decoderThread);
        QObject::connect(pullDecoder, &PullDecoder::decoded, q,
                         [this](quint64 serial, const Protocol::PullResponse &response,
                                const SyncError &error) {
                             const SyncTransport::PullCallback done = pendingPulls.take(serial);
                             if (done)
                                 done(response, error);
                         });
        decoderThread->start();
    }
    return pullDecoder;
}

QNetworkRequest HttpTransportPrivate::request(const QString &path, const QUrlQuery &query) const
{
    QUrl target = url;
    QString base = target.path();
    if (base.endsWith(QLatin1Char('/')))
        base.chop(1);
    target.setPath(base + path);
    target.setQuery(query);
    QNetworkRequest r(target);
    r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    r.setRawHeader(QByteArrayLiteral("Accept"), QByteArrayLiteral("application/json"));
    for (auto it = headers.cbegin(); it != headers.cend(); ++it)
        r.setRawHeader(it.key().toUtf8(), it.value().toString().toUtf8());
    if (!token.isEmpty())
        r.setRawHeader(QByteArrayLiteral("Authorization"), "Bearer " + token.toUtf8());
    r.setTransferTimeout(timeoutMs);
    r.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::NoLessSafeRedirectPolicy);
    return r;
}

void HttpTransportPrivate::finish(QNetworkReply *reply,
                                  std::function<void(const QByteArray &, const SyncError &)> done)
{
    // A hostile server could send an endless body: stop reading past the limit, or as soon as
    // its Content-Length announces more than the limit (not after downloading that much).
    QObject::connect(reply, &QNetworkReply::metaDataChanged, reply, [reply] {
        const QVariant length = reply->header(QNetworkRequest::ContentLengthHeader);
        if (length.isValid() && length.toLongLong() > HttpTransport::MaxResponseBytes) {
            reply->setProperty("synqTooLarge", true);
            QMetaObject::invokeMethod(reply, &QNetworkReply::abort, Qt::QueuedConnection);
        }
    });
    // Checked on readyRead, which comes with every piece of data: downloadProgress is throttled
    // (at most one per 100 ms), so a fast server could get far past the limit between two.
    // Nobody reads the reply before it finished, so bytesAvailable() is all that arrived.
    QObject::connect(reply, &QNetworkReply::readyRead, reply, [reply] {
        if (reply->bytesAvailable() > HttpTransport::MaxResponseBytes) {
            reply->setProperty("synqTooLarge", true);
            reply->abort();
        }
    });
    QObject::connect(reply, &QNetworkReply::finished, q, [this, reply, done] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (reply->property("synqTooLarge").toBool()) {
            done({}, SyncError(SyncError::Protocol, HttpTransport::tr("The server's response is too large."))
                             .setRetryable(true));
            return;
        }
        // A 2xx whose transfer failed (connection lost, timed out mid-body) has an incomplete
        // body: it is a network failure, never a response to decode.
        const bool success = status >= 200 && status <= 299;
        if (status == 0 || (success && reply->error() != QNetworkReply::NoError)) {
            const bool timeout = reply->error() == QNetworkReply::OperationCanceledError
                    || reply->error() == QNetworkReply::TimeoutError;
            SyncError error(timeout ? SyncError::Timeout : SyncError::Network,
                            timeout ? HttpTransport::tr("The server did not answer in time.")
                                    : HttpTransport::tr("The server cannot be reached."),
                            reply->errorString());
            error.setRetryable(true);
            qCDebug(lcTransport) << reply->url().path() << error.toString();
            done({}, error);
            return;
        }
        const QByteArray body = reply->readAll();
        if (!success) {
            SyncError error = Protocol::errorFromResponse(status, body);
            const qint64 wait = Protocol::parseRetryAfter(reply->rawHeader("Retry-After"),
                                                          QDateTime::currentDateTimeUtc());
            if (wait >= 0)
                error.setRetryAfterMs(int(qMin<qint64>(wait, std::numeric_limits<int>::max())));
            qCDebug(lcTransport) << reply->url().path() << status << error.toString();
            if (status == 401)
                Q_EMIT q->authenticationRequired();
            done({}, error);
            return;
        }
        done(body, SyncError());
    });
}

void HttpTransport::push(const Protocol::PushRequest &request, PushCallback done)
{
    QNetworkReply *reply = d->manager()->post(d->request(QStringLiteral("/v1/push")),
                                              Protocol::encodePushRequest(request));
    qCDebug(lcTransport) << "push" << request.mutations.size() << "mutations, batch" << request.batch;
    d->finish(reply, [request, done](const QByteArray &body, const SyncError &error) {
        Protocol::PushResponse response;
        SyncError decodeError = error;
        if (!error.isError())
            Protocol::decodePushResponse(body, request, &response, &decodeError);
        done(decodeError.isError() ? Protocol::PushResponse() : response, decodeError);
    });
}

void HttpTransport::pull(const Protocol::PullRequest &request, PullCallback done)
{
    QUrlQuery query;
    query.addQueryItem(QStringLiteral("collection"), request.collection);
    if (!request.cursor.isEmpty())
        addOpaqueItem(&query, QStringLiteral("since"), request.cursor);
    query.addQueryItem(QStringLiteral("limit"), QString::number(request.limit));
    QNetworkReply *reply = d->manager()->get(d->request(QStringLiteral("/v1/changes"), query));
    d->finish(reply, [this, request, done](const QByteArray &body, const SyncError &error) {
        if (error.isError()) {
            done({}, error);
            return;
        }
        const quint64 serial = ++d->nextSerial;
        d->pendingPulls.insert(serial, done);
        QMetaObject::invokeMethod(d->decoder(), "decode", Qt::QueuedConnection,
                                  Q_ARG(quint64, serial), Q_ARG(QByteArray, body),
                                  Q_ARG(Synq::Protocol::PullRequest, request));
    });
}

/*!
    Asks the server for one record (\c{GET /v1/record}, docs/protocol.md, Fetch one record)
    with the same authorization, headers, timeout and error mapping as push() and pull(), and
    decodes the answer strictly (a key other than the one asked for is a Protocol error).

    A request synq-server would refuse (a collection that is not an identifier, an empty or
    too long key, a key with NUL or broken UTF-16, which a URL cannot even carry) is not sent:
    \a done gets, from the event loop, the error the server's 400 answer would give — a
    SyncError::Validation error that is not retryable, with the server's message.
*/
void HttpTransport::fetch(const Protocol::FetchRequest &request, FetchCallback done)
{
    if (const std::optional<PushRules::Problem> problem = PushRules::checkFetch(request)) {
        failFetchLater(std::move(done),
                       Protocol::errorFromResponse(400, QStringLiteral("validation"),
                                                   problem->message()));
        return;
    }
    QUrlQuery query;
    query.addQueryItem(QStringLiteral("collection"), request.collection);
    addOpaqueItem(&query, QStringLiteral("key"), request.key);
    QNetworkReply *reply = d->manager()->get(d->request(QStringLiteral("/v1/record"), query));
    qCDebug(lcTransport) << "fetch" << request.collection << request.key;
    d->finish(reply, [request, done](const QByteArray &body, const SyncError &error) {
        Protocol::FetchResponse response;
        SyncError decodeError = error;
        if (!error.isError())
            Protocol::decodeFetchResponse(body, request, &response, &decodeError);
        done(decodeError.isError() ? Protocol::FetchResponse() : response, decodeError);
    });
}

} // namespace Synq

#include "httptransport.moc"
