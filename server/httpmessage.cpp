// SPDX-License-Identifier: BSD-3-Clause
#include "httpmessage.h"

#include <QtCore/QJsonDocument>

namespace Synq {
namespace Server {

QByteArray HttpRequest::header(const QByteArray &name) const
{
    for (const auto &h : headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return h.second;
    }
    return QByteArray();
}

HttpResponse HttpResponse::json(int status, const QJsonObject &body)
{
    HttpResponse response;
    response.status = status;
    response.body = QJsonDocument(body).toJson(QJsonDocument::Compact);
    return response;
}

HttpResponse HttpResponse::error(int status, const QString &code, const QString &message,
                                 bool retryable)
{
    return json(status,
                QJsonObject { { QStringLiteral("error"),
                                QJsonObject { { QStringLiteral("code"), code },
                                              { QStringLiteral("message"), message },
                                              { QStringLiteral("retryable"), retryable } } } });
}

HttpResponse HttpResponse::validation(const QString &message)
{
    return error(400, QStringLiteral("validation"), message, false);
}

HttpResponse HttpResponse::unavailable()
{
    HttpResponse response =
            error(503, QStringLiteral("unavailable"),
                  QStringLiteral("the server's database is unavailable; try again later"), true);
    response.headers.append({ QByteArrayLiteral("Retry-After"), QByteArrayLiteral("1") });
    return response;
}

} // namespace Server
} // namespace Synq
