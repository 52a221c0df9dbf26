// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCTRANSPORT_H
#define SYNQ_SYNCTRANSPORT_H

#include <synq/protocol.h>
#include <synq/syncerror.h>
#include <synq/synq_export.h>

#include <QtCore/QObject>

#include <functional>
#include <memory>

namespace Synq {

class SyncTransportPrivate;

/*!
    \class Synq::SyncTransport
    \inmodule Synq
    \brief The way a SyncEngine reaches its backend: push mutations, pull changes, fetch one
    record.

    A transport speaks in the values of the Synq protocol (Synq::Protocol); HttpTransport maps
    them to HTTP, other transports to other backends. All calls are asynchronous: the callback
    runs exactly once, on the thread that owns the transport, with either a response or an
    error (never both). A transport decides nothing about retries; it reports what happened,
    with SyncError::isRetryable() and SyncError::retryAfterMs() filled in.
*/
class SYNQ_EXPORT SyncTransport : public QObject
{
    Q_OBJECT
    Q_PROPERTY(int batchSize READ batchSize WRITE setBatchSize NOTIFY batchSizeChanged FINAL)
    Q_PROPERTY(int maxPushesInFlight READ maxPushesInFlight WRITE setMaxPushesInFlight NOTIFY
                       maxPushesInFlightChanged FINAL)

public:
    using PushCallback =
            std::function<void(const Protocol::PushResponse &response, const SyncError &error)>;
    using PullCallback =
            std::function<void(const Protocol::PullResponse &response, const SyncError &error)>;
    using FetchCallback =
            std::function<void(const Protocol::FetchResponse &response, const SyncError &error)>;

    explicit SyncTransport(QObject *parent = nullptr);
    ~SyncTransport() override;

    virtual void push(const Protocol::PushRequest &request, PushCallback done) = 0;
    virtual void pull(const Protocol::PullRequest &request, PullCallback done) = 0;
    // Not every backend can answer for one record: by default, a non-retryable error.
    virtual void fetch(const Protocol::FetchRequest &request, FetchCallback done);

    // Mutations per push request (1..500, default 500; an oversized request is split).
    int batchSize() const;
    void setBatchSize(int size);
    // Push requests the engine may have on their way at once (1..4, default 1).
    int maxPushesInFlight() const;
    void setMaxPushesInFlight(int count);

Q_SIGNALS:
    void batchSizeChanged();
    void maxPushesInFlightChanged();
    // The backend asks for new credentials (HTTP 401); set them and the engine retries.
    void authenticationRequired();
    // The backend has changes the engine has not pulled yet (a realtime hint): the engine
    // starts a sync run soon. A missed hint loses nothing; the next run pulls them anyway.
    void changesAvailable();

protected:
    // Answers a fetch with error from the event loop (never inside fetch()), if the transport
    // still exists then.
    void failFetchLater(FetchCallback done, const SyncError &error);

private:
    std::unique_ptr<SyncTransportPrivate> d;
};

} // namespace Synq

#endif
