// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_HTTPADAPTER_H
#define SYNQ_HTTPADAPTER_H

#include "httpmessage.h"

#include <QtCore/QString>
#include <QtNetwork/QHostAddress>

#include <functional>
#include <memory>

namespace Synq {
namespace Server {

/*
    The one place that uses QtHttpServer (a technology preview in Qt 6.4 whose API changed
    later): it accepts connections, turns each complete request into an HttpRequest, hands it
    to the handler and writes the HttpResponse back. Bodies larger than maxBodyBytes are
    refused with 413 from their headers, before the body is read into memory.
*/
class HttpAdapter
{
public:
    using Handler = std::function<HttpResponse(const HttpRequest &)>;

    HttpAdapter(Handler handler, qint64 maxBodyBytes);
    ~HttpAdapter();
    HttpAdapter(const HttpAdapter &) = delete;
    HttpAdapter &operator=(const HttpAdapter &) = delete;

    bool listen(const QHostAddress &address, quint16 port, QString *error);
    quint16 serverPort() const;
    // Stops accepting connections.
    void close();

private:
    class Private;
    std::unique_ptr<Private> d;
};

} // namespace Server
} // namespace Synq

#endif
