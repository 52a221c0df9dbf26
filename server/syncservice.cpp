// SPDX-License-Identifier: BSD-3-Clause
#include "syncservice.h"

#include "fetchhandler.h"
#include "pullhandler.h"
#include "pushhandler.h"
#include "pushrequest.h"
#include "serverlogging.h"
#include "serverstore.h"

#include <QtCore/QDateTime>

namespace Synq {
namespace Server {

namespace {

HttpResponse methodNotAllowed(const QByteArray &allowed)
{
    HttpResponse response = HttpResponse::error(
            405, QStringLiteral("method-not-allowed"),
            QStringLiteral("this path takes %1 only").arg(QString::fromLatin1(allowed)), false);
    response.headers.append({ QByteArrayLiteral("Allow"), allowed });
    return response;
}

bool isJsonMediaType(const QByteArray &contentType)
{
    const QByteArray type = contentType.split(';').constFirst().trimmed().toLower();
    return type == "application/json";
}

} // namespace

SyncService::SyncService(ServerStore *store, const ServerOptions &options)
    : m_store(store), m_options(options)
{
}

std::optional<QString> SyncService::owner(const HttpRequest &request) const
{
    if (!m_options.requireTokens)
        return QStringLiteral(""); // the one anonymous owner (not null: it is bound as text)
    const QByteArray authorization = request.header(QByteArrayLiteral("Authorization")).trimmed();
    const qsizetype space = authorization.indexOf(' ');
    if (space <= 0 || authorization.left(space).compare("Bearer", Qt::CaseInsensitive) != 0)
        return std::nullopt;
    const QString token = QString::fromUtf8(authorization.mid(space + 1).trimmed());
    const auto it = m_options.tokens.constFind(token);
    if (token.isEmpty() || it == m_options.tokens.constEnd())
        return std::nullopt;
    return it.value();
}

HttpResponse SyncService::handle(const HttpRequest &request)
{
    HttpResponse response;
    const bool health = request.path == QLatin1String("/v1/health");
    const bool isPush = request.path == QLatin1String("/v1/push");
    const bool isPull = request.path == QLatin1String("/v1/changes");
    const bool isFetch = request.path == QLatin1String("/v1/record");
    std::optional<QString> user;
    if (!health && !isPush && !isPull && !isFetch) {
        response = HttpResponse::error(
                404, QStringLiteral("not-found"),
                QStringLiteral("no such path: %1").arg(request.path.left(200)), false);
    } else if (health && request.method != "GET") {
        response = methodNotAllowed("GET");
    } else if ((isPull || isFetch) && request.method != "GET") {
        response = methodNotAllowed("GET");
    } else if (isPush && request.method != "POST") {
        response = methodNotAllowed("POST");
    } else if (health) {
        response =
                HttpResponse::json(200,
                                   QJsonObject { { QStringLiteral("status"), QStringLiteral("ok") },
                                                 { QStringLiteral("protocol"), 1 } });
    } else if (request.body.size() > MaxRequestBodyBytes) {
        response = HttpResponse::error(
                413, QStringLiteral("too-large"),
                QStringLiteral("the request body exceeds %1 bytes").arg(MaxRequestBodyBytes), true);
    } else if (!(user = owner(request))) {
        response = HttpResponse::error(401, QStringLiteral("unauthorized"),
                                       QStringLiteral("a valid bearer token is required"), true);
        response.headers.append({ QByteArrayLiteral("WWW-Authenticate"),
                                  QByteArrayLiteral("Bearer realm=\"synq\"") });
    } else if (isPush) {
        response = push(request, *user);
    } else if (isFetch) {
        response = fetchRecord(m_store, *user, request.query);
    } else {
        response = pullChanges(m_store, *user, request.query);
    }
    // Never the Authorization header, never bodies: they may carry tokens or user data.
    qCDebug(lcServer, "%s %s -> %d%s", request.method.isEmpty() ? "?" : request.method.constData(),
            qPrintable(request.path.left(200)), response.status,
            user ? qPrintable(QStringLiteral(" (user \"%1\")").arg(*user)) : "");
    return response;
}

HttpResponse SyncService::push(const HttpRequest &request, const QString &owner)
{
    if (!isJsonMediaType(request.header(QByteArrayLiteral("Content-Type"))))
        return HttpResponse::error(415, QStringLiteral("unsupported-media-type"),
                                   QStringLiteral("a push is sent as application/json"), false);
    PushRequest push;
    DecodeFailure failure;
    if (!decodePushRequest(request.body, &push, &failure)) {
        return HttpResponse::error(failure.status,
                                   failure.status == 413 ? QStringLiteral("too-large")
                                                         : QStringLiteral("validation"),
                                   failure.message, failure.status == 413);
    }
    PushHandler handler(m_store, m_options.serverAssignedKeys);
    const PushHandler::Outcome outcome = handler.run(owner, push);
    if (!outcome.anyDecided) {
        // Nothing was decided: say so for the whole request, with a hint when to come back.
        return HttpResponse::unavailable();
    }
    return HttpResponse::json(200, QJsonObject { { QStringLiteral("results"), outcome.results } });
}

void SyncService::pruneTombstones()
{
    const qint64 cutoff =
            QDateTime::currentMSecsSinceEpoch() - m_options.tombstoneHorizonSeconds * 1000;
    int removed = 0;
    qint64 upTo = 0;
    if (!m_store->pruneTombstones(cutoff, &removed, &upTo)) {
        qCWarning(lcServer, "pruning tombstones failed: %s", qPrintable(m_store->lastError()));
        return;
    }
    if (removed > 0)
        qCInfo(lcServer, "pruned %d tombstones up to version %lld", removed, upTo);
}

} // namespace Server
} // namespace Synq
