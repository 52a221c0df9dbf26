// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_HTTPMESSAGE_H
#define SYNQ_HTTPMESSAGE_H

#include <QtCore/QByteArray>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QPair>
#include <QtCore/QString>
#include <QtCore/QUrlQuery>

namespace Synq {
namespace Server {

/*
    Plain request and response values between the HTTP adapter (the only code that knows the
    HTTP server library) and the sync service (which knows the protocol). Every response body
    is JSON; the adapter adds Content-Type and Content-Length.
*/
using HttpHeaders = QList<QPair<QByteArray, QByteArray>>;

struct HttpRequest
{
    QByteArray method; // "GET", "POST", ...; empty for a method HTTP does not know
    QString path; // decoded, without the query
    QUrlQuery query;
    HttpHeaders headers;
    QByteArray body;

    // The first header of that name (case-insensitive), or a null QByteArray.
    QByteArray header(const QByteArray &name) const;
};

struct HttpResponse
{
    int status = 200;
    QByteArray body;
    HttpHeaders headers; // besides Content-Type and Content-Length

    static HttpResponse json(int status, const QJsonObject &body);
    // {"error": {"code", "message", "retryable"}} (docs/protocol.md, Errors)
    static HttpResponse error(int status, const QString &code, const QString &message,
                              bool retryable);
    // 400 "validation", not retryable; message names the field ("key: missing").
    static HttpResponse validation(const QString &message);
    // 503 "unavailable" with Retry-After: 1: the database failed, nothing was decided.
    static HttpResponse unavailable();
};

// The largest request body the protocol allows (4 MiB).
constexpr qint64 MaxRequestBodyBytes = 4 * 1024 * 1024;

} // namespace Server
} // namespace Synq

#endif
