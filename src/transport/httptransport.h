// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_HTTPTRANSPORT_H
#define SYNQ_HTTPTRANSPORT_H

#include <synq/synctransport.h>

#include <QtCore/QUrl>
#include <QtCore/QVariantMap>

#include <memory>

namespace Synq {

class HttpTransportPrivate;

class SYNQ_EXPORT HttpTransport : public Synq::SyncTransport // qualified for qmltyperegistrar
{
    Q_OBJECT
    Q_PROPERTY(QUrl url READ url WRITE setUrl NOTIFY urlChanged FINAL)
    Q_PROPERTY(QString authToken READ authToken WRITE setAuthToken NOTIFY authTokenChanged FINAL)
    Q_PROPERTY(int timeoutMs READ timeoutMs WRITE setTimeoutMs NOTIFY timeoutMsChanged FINAL)
    Q_PROPERTY(QVariantMap headers READ headers WRITE setHeaders NOTIFY headersChanged FINAL)

public:
    explicit HttpTransport(QObject *parent = nullptr);
    ~HttpTransport() override;

    QUrl url() const;
    void setUrl(const QUrl &url);
    QString authToken() const;
    void setAuthToken(const QString &token);
    int timeoutMs() const;
    void setTimeoutMs(int ms);
    QVariantMap headers() const;
    void setHeaders(const QVariantMap &headers);

    // Responses larger than this are refused as a Protocol error (default 64 MiB).
    static constexpr qint64 MaxResponseBytes = 64 * 1024 * 1024;

    void push(const Protocol::PushRequest &request, PushCallback done) override;
    void pull(const Protocol::PullRequest &request, PullCallback done) override;
    void fetch(const Protocol::FetchRequest &request, FetchCallback done) override;

Q_SIGNALS:
    void urlChanged();
    void authTokenChanged();
    void timeoutMsChanged();
    void headersChanged();

private:
    std::unique_ptr<HttpTransportPrivate> d;
};

} // namespace Synq

#endif
