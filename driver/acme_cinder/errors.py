"""The one place where appliance, mount and file errors become Cinder's exceptions."""

from __future__ import annotations

import functools
from collections.abc import Callable

from oslo_concurrency import processutils as putils
from tooz import ToozError

from acme_cinder import acme_client
from acme_cinder.mounts import MountError
from cinder import exception

BACKEND_ERRORS = (acme_client.AcmeError, MountError, putils.ProcessExecutionError, OSError)


def backend_errors(method: Callable) -> Callable:
    """Report appliance, mount and file failures as VolumeBackendAPIException.

    Cinder's own exceptions (VolumeIsBusy, ManageExistingInvalidReference, ...)
    pass unchanged; the message names the method and the appliance's reason
    (with its request id), or the lock service when tooz failed.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except exception.CinderException:
            raise
        except BACKEND_ERRORS as error:
            raise exception.VolumeBackendAPIException(
                data=f'{method.__name__}: {error}') from error
        except ToozError as error:
            raise exception.VolumeBackendAPIException(
                data=f'{method.__name__}: the lock service ([coordination] backend_url) '
                     f'failed: {type(error).__name__}: {error or "no answer"}') from error

    return wrapper
