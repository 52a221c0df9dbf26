// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TESTTRANSPORT_P_H
#define SYNQ_TESTTRANSPORT_P_H

//
//  W A R N I N G
//  -------------
//
// This file is not part of the Synq API. It may change from version to version without notice.
//

#include <synq/synctransport.h>
#include <synq/testbackend.h>

#include <functional>

namespace Synq {
namespace Testing {

class TestBackendPrivate;

/*
    The SyncTransport a TestBackend hands out: the network between an engine and the
    in-memory server. It answers each request as synq-server would (or as the backend's
    controls say: offline, failNextRequest(), a refusal) and delivers the answer later from
    the event loop. The backend owns it and deletes it first thing on destruction, which also
    drops its queued answers.
*/
class TestTransport : public SyncTransport
{
public:
    explicit TestTransport(TestBackendPrivate *backend, QObject *parent);

    void push(const Protocol::PushRequest &request, PushCallback done) override;
    void pull(const Protocol::PullRequest &request, PullCallback done) override;
    void fetch(const Protocol::FetchRequest &request, FetchCallback done) override;

    void emitChangesAvailable() { Q_EMIT changesAvailable(); }

private:
    bool takeRequestFailure(TestBackend::RequestType type, SyncError *error);
    // Calls done with the answer after the backend's networkDelay, then announce with the
    // backend if it still exists.
    template<typename Response, typename Callback>
    void deliver(Response response, SyncError error, Callback done,
                 std::function<void(TestBackend *)> announce);
    static SyncError unreachable();

    TestBackendPrivate *m_backend;
};

} // namespace Testing
} // namespace Synq

#endif
