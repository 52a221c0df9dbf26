// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_LOGGING_P_H
#define SYNQ_LOGGING_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/synq_export.h>

#include <QtCore/QLoggingCategory>

/*
    Every logging category of the Synq libraries, one per layer or phase. Enable them with
    QT_LOGGING_RULES, e.g. "synq.push.debug=true". Warnings are on by default, debug output
    (payload sizes, batch ids, never tokens or record contents) off.
*/

namespace Synq {

SYNQ_EXPORT const QLoggingCategory &lcStorage(); // synq.storage: the local database
SYNQ_EXPORT const QLoggingCategory &lcTransport(); // synq.transport: HTTP requests
SYNQ_EXPORT const QLoggingCategory &lcEngine(); // synq.engine: opening, errors reported
SYNQ_EXPORT const QLoggingCategory &lcPush(); // synq.push: batches, compaction
SYNQ_EXPORT const QLoggingCategory &lcPull(); // synq.pull: pages, re-syncs
SYNQ_EXPORT const QLoggingCategory &lcModel(); // synq.model: refused changes
SYNQ_EXPORT const QLoggingCategory &lcTesting(); // synq.testing: the test backend

} // namespace Synq

#endif
